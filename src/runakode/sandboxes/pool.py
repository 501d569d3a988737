import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator

from runakode.errors import SandboxError, SandboxUnavailable
from runakode.sandboxes.base import (
    Finished,
    ProgramInput,
    SandboxBackend,
    SandboxEvent,
    SandboxHandle,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
)

log = logging.getLogger(__name__)

REFILL_RETRY_S = 2.0
# Idle sandboxes are only booted while the host keeps at least this much memory available.
MIN_AVAILABLE_BYTES = 1 << 30
# Boots at once: each is CPU-bound, so more than the host's cores only adds contention.
PARALLEL_BOOTS = max(1, min(4, os.cpu_count() or 1))
# How often the sandboxes of this host's dead workers are looked for (a worker killed with
# SIGKILL cannot remove its own): while any worker of the host lives, within a minute.
SWEEP_INTERVAL_S = 30.0


def available_memory_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return MIN_AVAILABLE_BYTES


class SandboxPool:
    """Boots sandboxes before they are needed; each still serves exactly one job, then goes.

    The boot (most of a job's latency) happens off the request path; a job that finds no idle
    sandbox of its kind boots one itself, exactly as without a pool.
    """

    def __init__(
        self,
        backend: SandboxBackend,
        targets: dict[SandboxSpec, int],
        sweep_interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        self._backend = backend
        self._targets = {spec: size for spec, size in targets.items() if size > 0}
        self._idle: dict[SandboxSpec, deque[SandboxHandle]] = {
            spec: deque() for spec in self._targets
        }
        self._wanted = asyncio.Event()
        self._refiller: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_interval_s = sweep_interval_s
        self._discards: set[asyncio.Task[None]] = set()
        self._closing = False
        # Every boot, ahead of need or for a job, takes a turn: many at once only contend.
        self._boots = asyncio.Semaphore(PARALLEL_BOOTS)

    def idle_count(self, spec: SandboxSpec) -> int:
        return len(self._idle.get(spec, ()))

    async def start(self) -> None:
        await self._backend.start()
        if self._targets:
            self._refiller = asyncio.create_task(self._refill_forever())
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def health(self) -> str | None:
        return await self._backend.health()

    async def image_version(self, image: str) -> str | None:
        return await self._backend.image_version(image)

    async def close(self) -> None:
        self._closing = True
        for task in (self._refiller, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.gather(*self._discards, return_exceptions=True)
        for idle in self._idle.values():
            while idle:
                await self._backend.discard(idle.popleft())
        await self._backend.close()

    async def run(self, job: SandboxJob) -> SandboxResult:
        async with contextlib.aclosing(self.stream(job)) as events:
            async for event in events:
                if isinstance(event, Finished):
                    return event.result
        raise SandboxError("a sandbox's events ended without a result")

    async def stream(
        self, job: SandboxJob, controls: ProgramInput | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        idle = self._idle.get(job.spec)
        if idle:
            handle = idle.popleft()
            self._wanted.set()
            # SandboxUnavailable comes before any event: the job can go to a fresh sandbox.
            try:
                async with contextlib.aclosing(self._execute(handle, job, controls)) as events:
                    async for event in events:
                        yield event
                return
            except SandboxUnavailable:
                log.warning("an idle sandbox had died; booting a fresh one for the job")
        handle = await self._prepare(job.spec)
        async with contextlib.aclosing(self._execute(handle, job, controls)) as events:
            async for event in events:
                yield event

    async def _prepare(self, spec: SandboxSpec) -> SandboxHandle:
        if self._closing:
            raise SandboxError("the sandbox pool is closing")
        async with self._boots:
            return await self._backend.prepare(spec)

    async def _execute(
        self, handle: SandboxHandle, job: SandboxJob, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        try:
            async with contextlib.aclosing(self._backend.execute(handle, job, controls)) as events:
                async for event in events:
                    yield event
        finally:
            # Removal is off the request path too; close() waits for the stragglers.
            task = asyncio.create_task(self._backend.discard(handle))
            self._discards.add(task)
            task.add_done_callback(self._discards.discard)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            try:
                await self._backend.remove_orphans()
            except SandboxError as exc:
                log.warning("could not sweep sandboxes of dead workers: %s", exc.message)

    async def _refill_forever(self) -> None:
        while not self._closing:
            try:
                await self._refill()
            except SandboxError as exc:
                log.warning("could not boot an idle sandbox: %s", exc.message)
                await asyncio.sleep(REFILL_RETRY_S)
                continue
            self._wanted.clear()
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow the
            # cancellation from close() when the event is set at the same moment.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFILL_RETRY_S):
                    await self._wanted.wait()

    async def _refill(self) -> None:
        while wanted := self._wanted_specs():
            booted = await asyncio.gather(
                *(self._prepare(spec) for spec in wanted), return_exceptions=True
            )
            failures = []
            for spec, outcome in zip(wanted, booted, strict=True):
                if isinstance(outcome, BaseException):
                    failures.append(outcome)
                else:
                    self._idle[spec].append(outcome)
            if failures:
                raise failures[0]

    def _wanted_specs(self) -> list[SandboxSpec]:
        """The next few sandboxes to boot, emptiest pool first, while memory allows."""
        if available_memory_bytes() < MIN_AVAILABLE_BYTES:
            return []
        missing = sorted(
            (
                (len(self._idle[spec]) + rank, spec)
                for spec, target in self._targets.items()
                for rank in range(target - len(self._idle[spec]))
            ),
            key=lambda slot: slot[0],
        )
        return [spec for _, spec in missing[:PARALLEL_BOOTS]]
