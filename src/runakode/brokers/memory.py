import asyncio
import contextlib

from runakode import metrics
from runakode.brokers.base import JobHandler
from runakode.errors import PoisonJob, QueueFull, ResultTimeout
from runakode.models import Job, JobResult

_Entry = tuple[Job, "asyncio.Future[JobResult]"]


class MemoryBroker:
    """An in-process queue for the single-process mode: no services needed."""

    def __init__(self, max_length: int) -> None:
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue(maxsize=max_length)
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._versions: dict[str, str | None] = {}

    async def connect(self) -> None:
        return None

    async def serve_replies(self) -> None:
        return None

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
            self._queue.put_nowait((job, future))
        except asyncio.QueueFull:
            raise QueueFull("the job queue is full, try again later") from None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            raise ResultTimeout(f"no result within {timeout_s:g} s") from None
        finally:
            # A job whose client gave up is skipped by the workers, like an expired message.
            future.cancel()

    async def consume(self, handler: JobHandler, concurrency: int) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(handler, concurrency))

    async def stop_consuming(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None

    async def _dispatch(self, handler: JobHandler, concurrency: int) -> None:
        slots = asyncio.Semaphore(concurrency)
        while True:
            await slots.acquire()
            try:
                job, future = await self._queue.get()
            except asyncio.CancelledError:
                slots.release()
                raise
            if future.done():
                slots.release()
                continue
            task = asyncio.create_task(self._handle(handler, job, future, slots))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @staticmethod
    async def _handle(
        handler: JobHandler,
        job: Job,
        future: "asyncio.Future[JobResult]",
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            try:
                result = await handler(job)
            except PoisonJob as exc:
                result = JobResult.internal_error(exc.message)
            except asyncio.CancelledError:
                # Stopping past the grace period: there is no other worker to hand it to.
                if not future.done():
                    future.set_result(JobResult.internal_error("the service stopped mid-job"))
                raise
            if not future.done():
                future.set_result(result)
        finally:
            slots.release()
