import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, Mapping

from runakode import metrics
from runakode.errors import SandboxError, SandboxUnavailable
from runakode.sandboxes.base import (
    ProgramInput,
    SandboxBackend,
    SandboxEvent,
    SandboxHandle,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
    final_result,
)
from runakode.sandboxes.pool_sizing import Demand

log = logging.getLogger(__name__)

REFILL_RETRY_S = 2.0
# Fresh sandboxes a job may boot when the one it got died before taking it (a sandbox that
# could not boot in its allowance on a loaded host counts): an engine failure is not retried.
JOB_FRESH_SANDBOXES = 2
# Idle sandboxes are only booted while the host keeps at least this much memory available.
MIN_AVAILABLE_BYTES = 1 << 30
# Boots at once: each is CPU-bound, so more than the host's cores only adds contention.
PARALLEL_BOOTS = max(1, min(4, os.cpu_count() or 1))
# Boots ahead of need take at most half of the host's cores at once: the rest is for jobs.
PARALLEL_REFILLS = max(1, PARALLEL_BOOTS // 2)
# An idle sandbox beyond its kind's target is only let go once nobody has asked for that kind
# for this long: demand that dips between two bursts does not cost boots.
SHRINK_AFTER_S = 30.0
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
    sandbox of its kind boots one itself, exactly as without a pool. Each kind in `targets`
    keeps a fixed number of idle sandboxes, or (None) as many as its recent demand calls for
    (pool_sizing.Demand); other kinds are never booted ahead. `names` label the metrics.
    """

    def __init__(
        self,
        backend: SandboxBackend,
        targets: Mapping[SandboxSpec, int | None],
        sweep_interval_s: float = SWEEP_INTERVAL_S,
        names: Mapping[SandboxSpec, str] | None = None,
        demand: Demand | None = None,
    ) -> None:
        self._backend = backend
        self._fixed = {spec: size for spec, size in targets.items() if size is not None}
        self._idle: dict[SandboxSpec, deque[SandboxHandle]] = {spec: deque() for spec in targets}
        self._names = {spec: (names or {}).get(spec, spec.image) for spec in targets}
        self._demand = demand or Demand()
        for spec, name in self._names.items():
            metrics.POOL_IDLE.labels(name).set(0)
            metrics.POOL_TARGET.labels(name).set(self.target(spec))
            metrics.POOL_HITS.labels(name)
            metrics.POOL_MISSES.labels(name)
        self._wanted = asyncio.Event()
        self._refiller: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_interval_s = sweep_interval_s
        self._discards: set[asyncio.Task[None]] = set()
        self._closing = False
        # Every boot, ahead of need or for a job, takes a turn: many at once only contend.
        self._boots = asyncio.Semaphore(PARALLEL_BOOTS)
        self._refills = asyncio.Semaphore(PARALLEL_REFILLS)

    def idle_count(self, spec: SandboxSpec) -> int:
        return len(self._idle.get(spec, ()))

    def target(self, spec: SandboxSpec) -> int:
        """Idle sandboxes of this kind wanted now: its fixed count, or what demand calls for
        (none while its image is missing)."""
        if not self._backend.image_present(spec.image):
            return 0
        fixed = self._fixed.get(spec)
        return fixed if fixed is not None else self._demand.target(spec)

    async def start(self) -> None:
        await self._backend.start()
        if self._idle:
            self._refiller = asyncio.create_task(self._refill_forever())
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def health(self) -> str | None:
        return await self._backend.health()

    def image_present(self, image: str) -> bool:
        return self._backend.image_present(image)

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
        return await final_result(self.stream(job))

    async def stream(
        self, job: SandboxJob, controls: ProgramInput | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        idle = self._idle.get(job.spec)
        if idle is not None:
            self._demand.arrived(job.spec)
            self._wanted.set()
            name = self._names[job.spec]
            (metrics.POOL_HITS if idle else metrics.POOL_MISSES).labels(name).inc()
        fresh_tries = JOB_FRESH_SANDBOXES
        while True:
            # SandboxUnavailable comes before any event: the job can go to a fresh sandbox.
            try:
                if idle:
                    handle = idle.popleft()
                    self._count_idle(job.spec)
                else:
                    fresh_tries -= 1
                    handle = await self._prepare(job.spec)
                async with contextlib.aclosing(self._execute(handle, job, controls)) as events:
                    async for event in events:
                        yield event
                return
            except SandboxUnavailable as exc:
                if fresh_tries <= 0 or self._closing:
                    raise
                log.warning("a job's sandbox was unavailable (%s); booting another", exc.message)
                idle = None

    async def _prepare(self, spec: SandboxSpec) -> SandboxHandle:
        if self._closing:
            raise SandboxError("the sandbox pool is closing")
        async with self._boots:
            started = time.monotonic()
            handle = await self._backend.prepare(spec)
            booted_s = time.monotonic() - started
        self._demand.booted(spec, booted_s)
        metrics.SANDBOX_BOOT.observe(booted_s)
        return handle

    async def _prepare_ahead(self, spec: SandboxSpec) -> SandboxHandle:
        async with self._refills:
            return await self._prepare(spec)

    def _count_idle(self, spec: SandboxSpec) -> None:
        name = self._names[spec]
        metrics.POOL_IDLE.labels(name).set(len(self._idle[spec]))
        metrics.POOL_TARGET.labels(name).set(self.target(spec))

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
        await self._shrink()
        while wanted := self._wanted_specs():
            booted = await asyncio.gather(
                *(self._prepare_ahead(spec) for spec in wanted), return_exceptions=True
            )
            failures = []
            for spec, outcome in zip(wanted, booted, strict=True):
                if isinstance(outcome, BaseException):
                    failures.append(outcome)
                else:
                    self._idle[spec].append(outcome)
                    self._count_idle(spec)
            if failures:
                raise failures[0]

    async def _shrink(self) -> None:
        """Lets go of idle sandboxes beyond their kind's target (oldest first), once demand
        for the kind has been quiet for a while: each costs memory as long as it waits."""
        for spec, idle in self._idle.items():
            quiet = self._demand.last_arrival_age_s(spec) >= SHRINK_AFTER_S
            while len(idle) > self.target(spec) and (quiet or spec in self._fixed):
                await self._backend.discard(idle.popleft())
            self._count_idle(spec)

    def _wanted_specs(self) -> list[SandboxSpec]:
        """The next few sandboxes to boot, emptiest pool first, while memory allows."""
        if available_memory_bytes() < MIN_AVAILABLE_BYTES:
            return []
        missing = sorted(
            (
                (len(idle) + rank, spec)
                for spec, idle in self._idle.items()
                for rank in range(self.target(spec) - len(idle))
            ),
            key=lambda slot: slot[0],
        )
        return [spec for _, spec in missing[:PARALLEL_REFILLS]]
