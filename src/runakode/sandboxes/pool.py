import asyncio
import contextlib
import logging
import os
from collections import deque
from typing import Protocol

from runakode.errors import SandboxError, SandboxUnavailable
from runakode.sandboxes.base import SandboxJob, SandboxResult, SandboxSpec

log = logging.getLogger(__name__)

REFILL_RETRY_S = 2.0
# Idle sandboxes are only booted while the host keeps at least this much memory available.
MIN_AVAILABLE_BYTES = 1 << 30
# Boots at once: each is CPU-bound, so more than the host's cores only adds contention.
PARALLEL_BOOTS = max(1, min(4, os.cpu_count() or 1))


class PreparingBackend(Protocol):
    async def start(self) -> None: ...
    async def prepare(self, spec: SandboxSpec) -> str: ...
    async def execute(self, sandbox_id: str, job: SandboxJob) -> SandboxResult: ...
    async def discard(self, sandbox_id: str) -> None: ...
    async def health(self) -> str | None: ...
    async def image_version(self, image: str) -> str | None: ...
    async def close(self) -> None: ...


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

    def __init__(self, backend: PreparingBackend, targets: dict[SandboxSpec, int]) -> None:
        self._backend = backend
        self._targets = {spec: size for spec, size in targets.items() if size > 0}
        self._idle: dict[SandboxSpec, deque[str]] = {spec: deque() for spec in self._targets}
        self._wanted = asyncio.Event()
        self._refiller: asyncio.Task[None] | None = None
        self._discards: set[asyncio.Task[None]] = set()
        self._closing = False

    def idle_count(self, spec: SandboxSpec) -> int:
        return len(self._idle.get(spec, ()))

    async def start(self) -> None:
        await self._backend.start()
        if self._targets:
            self._refiller = asyncio.create_task(self._refill_forever())

    async def health(self) -> str | None:
        return await self._backend.health()

    async def image_version(self, image: str) -> str | None:
        return await self._backend.image_version(image)

    async def close(self) -> None:
        self._closing = True
        if self._refiller is not None:
            self._refiller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refiller
        await asyncio.gather(*self._discards, return_exceptions=True)
        for idle in self._idle.values():
            while idle:
                await self._backend.discard(idle.popleft())
        await self._backend.close()

    async def run(self, job: SandboxJob) -> SandboxResult:
        idle = self._idle.get(job.spec)
        if idle:
            sandbox_id = idle.popleft()
            self._wanted.set()
            try:
                return await self._execute(sandbox_id, job)
            except SandboxUnavailable:
                log.warning("an idle sandbox had died; booting a fresh one for the job")
        return await self._execute(await self._backend.prepare(job.spec), job)

    async def _execute(self, sandbox_id: str, job: SandboxJob) -> SandboxResult:
        try:
            return await self._backend.execute(sandbox_id, job)
        finally:
            # Removal is off the request path too; close() waits for the stragglers.
            task = asyncio.create_task(self._backend.discard(sandbox_id))
            self._discards.add(task)
            task.add_done_callback(self._discards.discard)

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
                *(self._backend.prepare(spec) for spec in wanted), return_exceptions=True
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
