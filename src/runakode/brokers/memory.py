import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from runakode import metrics
from runakode.brokers.base import JobHandlers, SubmissionFinished
from runakode.errors import PoisonJob, QueueFull, ResultTimeout
from runakode.models import Job, JobResult, SubmissionTicket

log = logging.getLogger(__name__)


@dataclass
class _JobEntry:
    job: Job
    future: "asyncio.Future[JobResult]"


@dataclass
class _TicketEntry:
    ticket: SubmissionTicket
    notify: bool


class MemoryBroker:
    """An in-process queue for the single-process mode: no services needed."""

    durable = False

    def __init__(self, max_length: int) -> None:
        self._queue: asyncio.Queue[_JobEntry | _TicketEntry] = asyncio.Queue(maxsize=max_length)
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._versions: dict[str, str | None] = {}
        self._on_finished: SubmissionFinished | None = None

    async def connect(self) -> None:
        return None

    async def serve_replies(self, on_submission_finished: SubmissionFinished) -> None:
        self._on_finished = on_submission_finished

    async def publish_languages(self, versions: dict[str, str | None]) -> None:
        self._versions = dict(versions)

    async def languages(self) -> dict[str, str | None]:
        return dict(self._versions)

    async def close(self) -> None:
        await self.stop_consuming()

    def health(self) -> str | None:
        metrics.BROKER_UP.set(1)
        return None

    async def submit(self, job: Job, timeout_s: float) -> JobResult:
        future: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_JobEntry(job, future))
        except asyncio.QueueFull:
            raise QueueFull("the job queue is full, try again later") from None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            raise ResultTimeout(f"no result within {timeout_s:g} s") from None
        finally:
            # A job whose client gave up is skipped by the workers, like an expired message.
            future.cancel()

    async def dispatch(self, tickets: Sequence[SubmissionTicket], *, notify: bool) -> None:
        for ticket in tickets:
            try:
                self._queue.put_nowait(_TicketEntry(ticket, notify))
            except asyncio.QueueFull:
                raise QueueFull("the job queue is full, try again later") from None

    async def consume(self, handlers: JobHandlers, concurrency: int) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(handlers, concurrency))

    async def stop_consuming(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None

    async def _dispatch(self, handlers: JobHandlers, concurrency: int) -> None:
        slots = asyncio.Semaphore(concurrency)
        while True:
            await slots.acquire()
            try:
                entry = await self._queue.get()
            except asyncio.CancelledError:
                slots.release()
                raise
            if isinstance(entry, _JobEntry) and entry.future.done():
                slots.release()
                continue
            task = asyncio.create_task(self._handle(handlers, entry, slots))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _handle(
        self, handlers: JobHandlers, entry: _JobEntry | _TicketEntry, slots: asyncio.Semaphore
    ) -> None:
        try:
            if isinstance(entry, _JobEntry):
                await _run_job(handlers, entry)
            else:
                await self._run_submission(handlers, entry)
        finally:
            slots.release()

    async def _run_submission(self, handlers: JobHandlers, entry: _TicketEntry) -> None:
        # Cancelled past the grace period, the submission stays held by this process: the next
        # start of the service queues it again.
        try:
            await handlers.run_submission(entry.ticket, redelivered=False)
        except Exception:
            # The store failed under the worker; the sweeper finds the submission again later.
            log.exception("a submission's job failed", extra={"token": entry.ticket.token})
        if entry.notify and self._on_finished is not None:
            self._on_finished(entry.ticket.token)


async def _run_job(handlers: JobHandlers, entry: _JobEntry) -> None:
    future = entry.future
    try:
        result = await handlers.run_job(entry.job)
    except PoisonJob as exc:
        result = JobResult.internal_error(exc.message)
    except asyncio.CancelledError:
        # Stopping past the grace period: there is no other worker to hand it to.
        if not future.done():
            future.set_result(JobResult.internal_error("the service stopped mid-job"))
        raise
    if not future.done():
        future.set_result(result)
