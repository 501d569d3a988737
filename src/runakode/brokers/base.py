from collections.abc import Awaitable, Callable
from typing import Protocol

from runakode.models import Job, JobResult

JobHandler = Callable[[Job], Awaitable[JobResult]]


class Broker(Protocol):
    """Carries jobs from the API to workers and results back; one interface, two transports."""

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def serve_replies(self) -> None:
        """Called by a process that submits jobs, before its first submit."""
        ...

    async def submit(self, job: Job, timeout_s: float) -> JobResult:
        """Queue the job and wait for its result: BrokerUnavailable at once, ResultTimeout late."""
        ...

    async def consume(self, handler: JobHandler, concurrency: int) -> None:
        """Start handing jobs to handler, at most `concurrency` at once; returns immediately."""
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
