import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from runakode import metrics
from runakode.brokers.base import JobHandlers, SubmissionFinished
from runakode.brokers.sessions import QueuedSession
from runakode.errors import PoisonJob, QueueFull, ResultTimeout
from runakode.models import Job, JobResult, SubmissionTicket
from runakode.sandboxes.base import ProgramInput, program_input
from runakode.streaming import SessionControl, SessionFinished, program_control

log = logging.getLogger(__name__)

STOPPED = "the service stopped mid-run"


@dataclass
class _JobEntry:
    job: Job
    future: "asyncio.Future[JobResult]"


@dataclass
class _TicketEntry:
    ticket: SubmissionTicket
    notify: bool


@dataclass
class _SessionEntry:
    job: Job
    session: QueuedSession
    controls: ProgramInput = field(default_factory=program_input)
    task: "asyncio.Task[None] | None" = None


_Entry = _JobEntry | _TicketEntry | _SessionEntry


class MemoryBroker:
    """An in-process queue for the single-process mode: no services needed."""

    durable = False

    def __init__(self, max_length: int) -> None:
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue(maxsize=max_length)
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

    async def open_session(self, job: Job, start_timeout_s: float) -> QueuedSession:
        entry: _SessionEntry

        async def send_control(control: SessionControl) -> None:
            if (item := program_control(control)) is not None:
                # Waits while the program has not read what came before: backpressure.
                await entry.controls.put(item)

        async def cancel() -> None:
            if entry.task is not None:
                entry.task.cancel()

        session = QueuedSession(start_timeout_s, send_control, cancel, liveness_timeout_s=None)
        entry = _SessionEntry(job, session)
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            raise QueueFull("the job queue is full, try again later") from None
        return session

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
            if isinstance(entry, _SessionEntry) and entry.session.closed:
                slots.release()
                continue
            task = asyncio.create_task(self._handle(handlers, entry, slots))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _handle(self, handlers: JobHandlers, entry: _Entry, slots: asyncio.Semaphore) -> None:
        try:
            if isinstance(entry, _JobEntry):
                await _run_job(handlers, entry)
            elif isinstance(entry, _SessionEntry):
                await _run_session(handlers, entry)
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


async def _run_session(handlers: JobHandlers, entry: _SessionEntry) -> None:
    # Its own task, so that closing the session cancels the run and nothing else.
    entry.task = asyncio.create_task(_pump_session(handlers, entry))
    try:
        await asyncio.wait([entry.task])
    except asyncio.CancelledError:
        entry.task.cancel()
        await asyncio.wait([entry.task])
        raise
    finally:
        if entry.task.cancelled():
            # Cut short by the service stopping past its grace period (or closed by its
            # client, who then hears nothing): the client hears why at once.
            entry.session.deliver(SessionFinished(result=JobResult.internal_error(STOPPED)))


async def _pump_session(handlers: JobHandlers, entry: _SessionEntry) -> None:
    async with contextlib.aclosing(handlers.run_session(entry.job, entry.controls)) as events:
        async for event in events:
            # Waits while the client reads slower than the program writes: backpressure.
            await entry.session.put(event)
