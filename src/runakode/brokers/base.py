from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Protocol

from runakode.models import Job, JobResult, SubmissionTicket
from runakode.sandboxes.base import ProgramInput
from runakode.streaming import Session, SessionEvent

SubmissionFinished = Callable[[str], None]


class JobHandlers(Protocol):
    """What a broker hands work to: the worker. The broker acknowledges a job once its handler
    returns, and for a synchronous job publishes the result to whoever waits for it."""

    async def run_job(self, job: Job) -> JobResult: ...

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        """Run a stored submission; `redelivered`: a holder before us lost its connection."""
        ...

    def run_session(self, job: Job, controls: ProgramInput) -> AsyncGenerator[SessionEvent, None]:
        """A live run's events, ending with SessionFinished; never raises for the program's
        or the sandbox's sake (a failure is a SessionFinished with an internal error)."""
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

    async def open_session(self, job: Job, start_timeout_s: float) -> Session:
        """Queue a live run (BrokerUnavailable or QueueFull at once); its events raise
        ResultTimeout when no worker starts it within start_timeout_s, or when its worker
        stops answering."""
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
