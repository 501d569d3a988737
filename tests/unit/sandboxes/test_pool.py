import asyncio
import itertools
from collections.abc import AsyncGenerator

import pytest
from prometheus_client import REGISTRY

from runakode.errors import SandboxError, SandboxUnavailable
from runakode.models import Status
from runakode.sandboxes import pool as pool_module
from runakode.sandboxes import pool_sizing
from runakode.sandboxes.base import (
    BootsUnderWay,
    Finished,
    PhaseResult,
    ProgramInput,
    RunLimits,
    SandboxEvent,
    SandboxHandle,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
)
from runakode.sandboxes.pool import SandboxPool
from runakode.sandboxes.pool_sizing import Demand
from unit.fakes import FakeClock

SPEC = SandboxSpec("python-runner", 256 << 20, 1.0)


def job() -> SandboxJob:
    return SandboxJob(
        job_id="j",
        spec=SPEC,
        files=(),
        run_argv=("true",),
        limits=RunLimits(wall_time_s=1.0, output_max_bytes=1024),
        stdin=b"",
        merge_output=False,
        compile=None,
    )


def ran_in(result: SandboxResult) -> str:
    """The sandbox a result came from: FakeBackend writes its id as the program's output."""
    assert result.run is not None
    return result.run.stdout.decode()


class FakeBackend:
    def __init__(self) -> None:
        self.ids = (f"sb{n}" for n in itertools.count())
        self.prepared: list[str] = []
        self.executed: list[str] = []
        self.discarded: list[str] = []
        self.dead: set[str] = set()
        self.closed = False

    def image_present(self, image: str) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def prepare(self, spec: SandboxSpec) -> SandboxHandle:
        assert spec == SPEC
        sandbox_id = next(self.ids)
        self.prepared.append(sandbox_id)
        return SandboxHandle(sandbox_id, spec)

    async def execute(
        self, handle: SandboxHandle, job: SandboxJob, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        if handle.id in self.dead:
            raise SandboxUnavailable("dead")
        self.executed.append(handle.id)
        run = PhaseResult(
            stdout=handle.id.encode(), stderr=b"", exit_code=0, signal=None, wall_time_ms=1
        )
        yield Finished(SandboxResult(Status.OK, None, run))

    async def discard(self, handle: SandboxHandle) -> None:
        self.discarded.append(handle.id)

    async def remove_orphans(self) -> int:
        return 0

    async def health(self) -> str | None:
        return None

    async def close(self) -> None:
        self.closed = True


async def wait_for_idle(pool: SandboxPool, count: int) -> None:
    for _ in range(200):
        if pool.idle_count(SPEC) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"pool never reached {count} idle sandboxes")


async def test_jobs_take_prebooted_sandboxes_and_each_is_used_once() -> None:
    backend = FakeBackend()
    pool = SandboxPool(backend, {SPEC: 2})
    await pool.start()
    await wait_for_idle(pool, 2)
    results = [await pool.run(job()) for _ in range(5)]
    await wait_for_idle(pool, 2)
    used = [ran_in(result) for result in results]
    assert len(set(used)) == 5, "a sandbox served two jobs"
    assert used[0] in backend.prepared[:2], "the first job did not get a prebooted sandbox"
    await pool.close()
    assert set(backend.discarded) == set(backend.prepared)
    assert backend.closed


async def test_without_a_pool_a_job_boots_its_own_sandbox() -> None:
    backend = FakeBackend()
    pool = SandboxPool(backend, {SPEC: 0})
    await pool.start()
    result = await pool.run(job())
    assert ran_in(result) == "sb0"
    assert backend.prepared == ["sb0"]
    await pool.close()
    assert backend.discarded == ["sb0"]


class FailingBoots(FakeBackend):
    """Its next boots fail with `error`: SandboxUnavailable as a boot past its allowance on a
    loaded host, SandboxError as an engine that does not answer."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[SandboxError] = []

    async def prepare(self, spec: SandboxSpec) -> SandboxHandle:
        if self.failures:
            raise self.failures.pop()
        return await super().prepare(spec)


async def test_a_jobs_sandbox_that_did_not_boot_is_booted_again_once() -> None:
    backend = FailingBoots()
    pool = SandboxPool(backend, {SPEC: 0})
    await pool.start()
    backend.failures = [SandboxUnavailable("a sandbox did not boot")]
    assert ran_in(await pool.run(job())) == "sb0"
    backend.failures = [SandboxUnavailable("did not boot"), SandboxUnavailable("did not boot")]
    with pytest.raises(SandboxUnavailable, match="did not boot"):
        await pool.run(job())
    assert backend.failures == []
    await pool.close()


async def test_an_engine_failure_is_not_retried() -> None:
    backend = FailingBoots()
    pool = SandboxPool(backend, {SPEC: 0})
    await pool.start()
    backend.failures = [SandboxError("docker engine unreachable")]
    with pytest.raises(SandboxError, match="unreachable"):
        await pool.run(job())
    assert backend.prepared == []
    await pool.close()


async def test_a_dead_idle_sandbox_is_replaced_not_blamed() -> None:
    backend = FakeBackend()
    pool = SandboxPool(backend, {SPEC: 1})
    await pool.start()
    await wait_for_idle(pool, 1)
    backend.dead.add(backend.prepared[0])
    result = await pool.run(job())
    assert result.status == Status.OK
    assert ran_in(result) != backend.prepared[0]
    await pool.close()
    assert backend.prepared[0] in backend.discarded


class CountingBackend(FakeBackend):
    """Boots slowly, counting how many boot at once; counts the sweeps."""

    def __init__(self) -> None:
        super().__init__()
        self.booting = 0
        self.most_booting = 0
        self.sweeps = 0

    async def prepare(self, spec: SandboxSpec) -> SandboxHandle:
        self.booting += 1
        self.most_booting = max(self.most_booting, self.booting)
        try:
            await asyncio.sleep(0.02)
            return await super().prepare(spec)
        finally:
            self.booting -= 1

    async def remove_orphans(self) -> int:
        self.sweeps += 1
        return 0


async def test_boots_for_jobs_take_turns() -> None:
    backend = CountingBackend()
    pool = SandboxPool(backend, {SPEC: 0})
    await pool.start()
    results = await asyncio.gather(*(pool.run(job()) for _ in range(10)))
    assert len({ran_in(result) for result in results}) == 10
    assert backend.most_booting == pool_module.PARALLEL_BOOTS
    await pool.close()


async def test_dead_workers_sandboxes_are_swept_periodically() -> None:
    backend = CountingBackend()
    pool = SandboxPool(backend, {SPEC: 0}, sweep_interval_s=0.01)
    await pool.start()
    for _ in range(100):
        if backend.sweeps >= 3:
            break
        await asyncio.sleep(0.01)
    await pool.close()
    assert backend.sweeps >= 3
    swept = backend.sweeps
    await asyncio.sleep(0.05)
    assert backend.sweeps == swept, "the sweeper outlived the pool"


async def test_a_consumer_that_stops_early_still_gets_its_sandbox_discarded() -> None:
    backend = FakeBackend()
    pool = SandboxPool(backend, {SPEC: 0})
    await pool.start()
    events = pool.stream(job())
    await anext(events)  # Finished, then the consumer walks away
    await events.aclose()
    await pool.close()
    assert backend.discarded == backend.prepared == ["sb0"]


async def test_closing_waits_for_boots_under_way_and_refuses_new_ones() -> None:
    boots = BootsUnderWay()
    booted = asyncio.Event()
    release = asyncio.Event()

    async def boot() -> None:
        async with boots.boot():
            booted.set()
            await release.wait()

    booting = asyncio.create_task(boot())
    await booted.wait()
    closing = asyncio.create_task(boots.close(timeout_s=5))
    await asyncio.sleep(0.01)
    assert not closing.done(), "close did not wait for the boot under way"
    with pytest.raises(SandboxError):
        async with boots.boot():
            pass
    release.set()
    await asyncio.wait_for(closing, 1)
    await booting


async def test_a_pool_that_is_closing_boots_nothing() -> None:
    backend = FakeBackend()
    pool = SandboxPool(backend, {SPEC: 0})
    await pool.start()
    await pool.close()
    with pytest.raises(SandboxError):
        await pool.run(job())
    assert backend.prepared == []


def pool_hits_and_misses() -> tuple[float, float]:
    hits = REGISTRY.get_sample_value("runakode_pool_hits_total", {"language": "python"})
    misses = REGISTRY.get_sample_value("runakode_pool_misses_total", {"language": "python"})
    return hits or 0.0, misses or 0.0


async def test_a_self_sizing_pool_boots_nothing_until_asked_then_follows_demand() -> None:
    backend = FakeBackend()
    clock = FakeClock()
    pool = SandboxPool(backend, {SPEC: None}, names={SPEC: "python"}, demand=Demand(clock))
    await pool.start()
    await asyncio.sleep(0.05)
    assert backend.prepared == [], "booted for a language nobody asked for"
    hits, misses = pool_hits_and_misses()
    await pool.run(job())  # boots its own: a miss
    await wait_for_idle(pool, pool_sizing.MOST_USED_FLOOR)
    await pool.run(job())  # takes an idle one: a hit
    assert pool_hits_and_misses() == (hits + 1, misses + 1)
    await wait_for_idle(pool, pool_sizing.MOST_USED_FLOOR)
    # Nobody asks for a long while: the idle sandboxes are let go.
    clock.now += pool_sizing.FORGET_AFTER_S + 1
    pool._wanted.set()
    await wait_for_idle(pool, 0)
    await pool.close()
    assert set(backend.discarded) == set(backend.prepared)


async def test_a_fixed_count_overrides_demand() -> None:
    backend = FakeBackend()
    pool = SandboxPool(backend, {SPEC: 3}, demand=Demand(FakeClock()))
    await pool.start()
    await wait_for_idle(pool, 3)
    assert pool.target(SPEC) == 3
    await pool.close()


async def test_boots_ahead_of_need_leave_room_for_jobs() -> None:
    backend = CountingBackend()
    pool = SandboxPool(backend, {SPEC: 8})
    await pool.start()
    await wait_for_idle(pool, 8)
    assert backend.most_booting == pool_module.PARALLEL_REFILLS
    await pool.close()
