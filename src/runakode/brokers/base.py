from collections.abc import Callable, Sequence
from typing import Protocol

from runakode.models import Job, JobResult, SubmissionTicket

SubmissionFinished = Callable[[str], None]


class JobHandlers(Protocol):
    """What a broker hands work to: the worker. The broker acknowledges a job once its handler
    returns, and for a synchronous job publishes the result to whoever waits for it."""

    async def run_job(self, job: Job) -> JobResult: ...

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        """Run a stored submission; `redelivered`: a holder before us lost its connection."""
        ...


class Broker(Protocol):
    """Carries jobs from the API to workers and results back; one interface, two transports."""

    # True when queued jobs outlive this process (RabbitMQ), False when they live in its memory.
    durable: bool

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def serve_replies(self, on_submission_finished: SubmissionFinished) -> None:
        """Called by a process that submits jobs, before its first submit."""
        ...

    async def submit(self, job: Job, timeout_s: float) -> JobResult:
        """Queue the job and wait for its result: BrokerUnavailable at once, ResultTimeout late."""
        ...

    async def dispatch(self, tickets: Sequence[SubmissionTicket], *, notify: bool) -> None:
        """Queue stored submissions (BrokerUnavailable or QueueFull if not all were taken).
        With notify, on_submission_finished of this process is called when each has ended."""
        ...

    async def consume(self, handlers: JobHandlers, concurrency: int) -> None:
        """Start handing jobs to handlers, at most `concurrency` at once; returns immediately."""
        ...

    async def stop_consuming(self) -> None:
        """Take no new jobs; jobs already handed out keep running."""
        ...

    async def publish_languages(self, versions: dict[str, str | None]) -> None:
        """A worker announces the language versions its images hold."""
        ...

    async def languages(self) -> dict[str, str | None]:
        """The versions workers announced last; empty before any did."""
        ...

    def health(self) -> str | None:
        """None when usable, otherwise a short reason."""
        ...
