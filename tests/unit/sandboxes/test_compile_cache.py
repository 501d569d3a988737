"""The compile cache: its key, its store on disk (age, size, restarts, several processes), and
the layer over the pool that replays a kept compile and runs the kept binary."""

import asyncio
import os
from collections.abc import AsyncGenerator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import pytest

from runakode import metrics
from runakode.models import Status
from runakode.sandboxes.base import (
    Artifacts,
    CompileStep,
    Finished,
    Output,
    Phase,
    PhaseEnded,
    PhaseResult,
    PhaseStarted,
    ProgramInput,
    RunLimits,
    SandboxEvent,
    SandboxFile,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
    Stream,
)
from runakode.sandboxes.compile_cache import (
    ARTIFACTS_MAX_BYTES,
    CompileCache,
    compile_key,
    with_artifacts,
)
from runakode.sandboxes.compile_store import CompileStore
from unit.fakes import FakeClock

MB = 1 << 20
DAY_S = 86400.0


def compiled_result(**changes: object) -> PhaseResult:
    result = PhaseResult(
        stdout=b"",
        stderr=b"main.c:1: warning: unused\n",
        exit_code=0,
        signal=None,
        wall_time_ms=1500,
        cpu_time_ms=1400,
        memory_kb=50_000,
    )
    return replace(result, **changes)


def c_job(
    source: bytes = b"int main(){}",
    *,
    options: tuple[str, ...] = (),
    stdin: bytes = b"",
    timeout_s: float = 10.0,
    extra: tuple[SandboxFile, ...] = (),
) -> SandboxJob:
    return SandboxJob(
        job_id="j",
        spec=SandboxSpec("c-runner", 256 * MB, 1.0),
        files=(SandboxFile("main.c", source), *extra),
        run_argv=("./main",),
        limits=RunLimits(wall_time_s=2.0, output_max_bytes=1024),
        stdin=stdin,
        merge_output=False,
        compile=CompileStep(
            ("gcc", "-O2", *options, "-o", "main", "main.c"), timeout_s, 4096, artifacts=("main",)
        ),
    )


def with_step(job: SandboxJob, **changes: object) -> SandboxJob:
    assert job.compile is not None
    return replace(job, compile=replace(job.compile, **changes))


# --- the key ---------------------------------------------------------------------------


def test_the_key_is_the_same_for_the_same_program_whatever_its_input() -> None:
    first = compile_key(c_job(stdin=b"1"), "gcc 12")
    again = replace(c_job(stdin=b"2"), run_argv=("./main", "arg"), job_id="other")
    assert compile_key(again, "gcc 12") == first


@pytest.mark.parametrize(
    "other",
    [
        c_job(b"int main(){return 1;}"),
        c_job(options=("-DX",)),
        c_job(extra=(SandboxFile("data.h", b"#define X"),)),
        replace(c_job(), files=(SandboxFile("main.c", b"int main(){}", executable=True),)),
        replace(c_job(), files=(SandboxFile("other.c", b"int main(){}"),)),
        with_step(c_job(), merge_output=True),
        with_step(c_job(), output_max_bytes=10),
    ],
)
def test_the_key_changes_with_any_source_file_or_compile_option(other: SandboxJob) -> None:
    assert compile_key(other, "gcc 12") != compile_key(c_job(), "gcc 12")


def test_the_key_changes_with_the_toolchain() -> None:
    assert compile_key(c_job(), "c-runner\nsha256:1\ngcc 12") != compile_key(
        c_job(), "c-runner\nsha256:2\ngcc 12"
    )


def test_artifacts_replace_the_files_of_their_name() -> None:
    files = (SandboxFile("main.c", b"src"), SandboxFile("main", b"stale"))
    kept = (SandboxFile("main", b"binary", executable=True),)
    assert with_artifacts(files, kept) == (SandboxFile("main.c", b"src"), *kept)


# --- the store on disk -----------------------------------------------------------------


def entry_files(size: int = 100) -> tuple[SandboxFile, ...]:
    return (
        SandboxFile("main", os.urandom(size), executable=True),
        SandboxFile("lib/Helper.class", b"\xca\xfe\xba\xbe"),
    )


def test_an_entry_survives_a_restart(tmp_path: Path) -> None:
    files = entry_files()
    CompileStore(tmp_path, 10 * MB, DAY_S).store("ab" * 32, compiled_result(), files)
    entry = CompileStore(tmp_path, 10 * MB, DAY_S).load("ab" * 32)
    assert entry is not None
    assert entry.files == files
    assert entry.compile == compiled_result()


def test_an_unknown_key_is_a_miss(tmp_path: Path) -> None:
    assert CompileStore(tmp_path, 10 * MB, DAY_S).load("cd" * 32) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_entry_is_a_miss_and_goes(tmp_path: Path, damage: str) -> None:
    store = CompileStore(tmp_path, 10 * MB, DAY_S)
    store.store("ab" * 32, compiled_result(), entry_files())
    [path] = (tmp_path / "entries").glob("*/*")
    data = path.read_bytes()
    if damage == "truncate":
        data = data[:-10]
    elif damage == "flip":
        data = data[:-1] + bytes([data[-1] ^ 1])
    else:
        data = b"not an entry"
    path.write_bytes(data)
    assert store.load("ab" * 32) is None
    assert not path.exists()


def test_an_entry_serves_at_most_max_age_after_its_compile(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    store = CompileStore(tmp_path, 10 * MB, DAY_S, clock)
    store.store("ab" * 32, compiled_result(), entry_files())
    clock.now += DAY_S - 1
    assert store.load("ab" * 32) is not None
    # Used a moment ago, but compiled more than a day ago.
    clock.now += 2
    assert store.load("ab" * 32) is None


def test_eviction_removes_entries_unused_for_max_age(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    store = CompileStore(tmp_path, 10 * MB, DAY_S, clock)
    store.store("aa" * 32, compiled_result(), entry_files())
    clock.now += DAY_S / 2
    store.store("bb" * 32, compiled_result(), entry_files())
    clock.now += DAY_S / 2 + 1
    store.evict()
    later = CompileStore(tmp_path, 10 * MB, DAY_S, clock)
    assert later.load("aa" * 32) is None
    assert later.load("bb" * 32) is not None


def test_over_its_size_the_least_recently_used_entries_go(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    # Room for three entries of ~100 KB, not four.
    store = CompileStore(tmp_path, 350_000, 30 * DAY_S, clock)
    for key in ("aa", "bb", "cc"):
        clock.now += 10
        store.store(key * 32, compiled_result(), entry_files(100_000))
    clock.now += 10
    assert store.load("aa" * 32) is not None  # used: now the most recent
    clock.now += 10
    store.store("dd" * 32, compiled_result(), entry_files(100_000))
    assert store.load("bb" * 32) is None
    for key in ("aa", "cc", "dd"):
        assert store.load(key * 32) is not None, key
    total = sum(path.stat().st_size for path in (tmp_path / "entries").glob("*/*"))
    assert total <= 350_000


def _writer(directory: str, worker: int) -> list[str]:
    """One worker process of the host: stores and loads shared and own keys over and over."""
    store = CompileStore(Path(directory), 1 << 30, DAY_S)
    problems = []
    for round_ in range(40):
        for key in ("ee" * 32, f"{worker:02d}" * 32):
            content = bytes([worker, round_ % 256]) * 50_000
            store.store(key, compiled_result(), (SandboxFile("main", content, True),))
            entry = store.load(key)
            # A whole entry, whichever process wrote it last: never a mix of two.
            if entry is None:
                problems.append(f"{key[:2]}: missing")
                continue
            [file] = entry.files
            if len(file.content) != 100_000 or len(set(file.content[::2])) != 1:
                problems.append(f"{key[:2]}: torn")
    return problems


def test_worker_processes_share_the_store_safely(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_writer, [str(tmp_path)] * 4, range(4)))
    assert results == [[], [], [], []]
    store = CompileStore(tmp_path, 1 << 30, DAY_S)
    for key in ("ee", "00", "01", "02", "03"):
        assert store.load(key * 32) is not None
    assert not list((tmp_path / "tmp").iterdir())


# --- the layer over the pool -----------------------------------------------------------


class FakeCompilingSandboxes:
    """A pool whose sandboxes compile (any job with a compile step) and run, as scripted."""

    def __init__(self, compiled: PhaseResult | None = None) -> None:
        self.compiled = compiled or compiled_result()
        self.jobs: list[SandboxJob] = []
        self.gate: asyncio.Event | None = None
        self.binary = SandboxFile("main", b"\x7fELF binary", executable=True)

    async def start(self) -> None:
        return None

    async def run(self, job: SandboxJob) -> SandboxResult:
        raise AssertionError("the cache streams")

    async def stream(
        self, job: SandboxJob, controls: ProgramInput | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        self.jobs.append(job)
        compiled = None
        if job.compile is not None:
            if self.gate is not None:
                await self.gate.wait()
            compiled = self.compiled
            yield PhaseStarted(Phase.COMPILE)
            yield Output(Phase.COMPILE, Stream.STDERR, compiled.stderr)
            yield PhaseEnded(Phase.COMPILE, compiled)
            if compiled.failed:
                yield Finished(SandboxResult(Status.COMPILE_ERROR, compiled, None))
                return
            if job.artifacts_max_bytes:
                yield Artifacts((self.binary,))
        else:
            assert self.binary in job.files, "a run without compile needs the kept binary"
        ran = PhaseResult(b"hello\n", b"", 0, None, 3)
        yield PhaseStarted(Phase.RUN)
        yield Output(Phase.RUN, Stream.STDOUT, ran.stdout)
        yield PhaseEnded(Phase.RUN, ran)
        yield Finished(SandboxResult(Status.OK, compiled, ran))

    async def health(self) -> str | None:
        return None

    def image_present(self, image: str) -> bool:
        return True

    async def image_version(self, image: str) -> str | None:
        return "gcc 12.2.0"

    async def close(self) -> None:
        return None


async def image_id(image: str) -> str | None:
    return f"sha256:{image}"


def cache_over(inner: FakeCompilingSandboxes, directory: Path) -> CompileCache:
    store = CompileStore(directory, 10 * MB, DAY_S)
    return CompileCache(inner, store, image_id, {"c-runner": "c"})


async def events_of(cache: CompileCache, job: SandboxJob) -> list[SandboxEvent]:
    return [event async for event in cache.stream(job)]


def count(result: str) -> float:
    return metrics.COMPILE_CACHE.labels("c", result)._value.get()


async def test_the_same_program_again_runs_the_kept_binary(tmp_path: Path) -> None:
    inner = FakeCompilingSandboxes()
    cache = cache_over(inner, tmp_path)
    hits, misses = count("hit"), count("miss")
    first = await events_of(cache, c_job(stdin=b"1"))
    again = await events_of(cache, c_job(stdin=b"2"))
    assert (count("hit") - hits, count("miss") - misses) == (1, 1)
    # The first asked for the artifacts; the second ran them without compiling.
    assert inner.jobs[0].artifacts_max_bytes == ARTIFACTS_MAX_BYTES
    rerun = inner.jobs[1]
    assert rerun.compile is None and rerun.stdin == b"2"
    assert rerun.files == (SandboxFile("main.c", b"int main(){}"), inner.binary)
    # Clients see the same stages, the compile's output and figures included; never artifacts.
    assert again == first
    assert not any(isinstance(event, Artifacts) for event in first)
    finished = again[-1]
    assert isinstance(finished, Finished) and finished.result.compile == compiled_result()


async def test_the_cache_outlives_the_process(tmp_path: Path) -> None:
    await events_of(cache_over(FakeCompilingSandboxes(), tmp_path), c_job())
    inner = FakeCompilingSandboxes()
    await events_of(cache_over(inner, tmp_path), c_job())
    assert inner.jobs[0].compile is None


async def test_a_different_program_compiles(tmp_path: Path) -> None:
    inner = FakeCompilingSandboxes()
    cache = cache_over(inner, tmp_path)
    await events_of(cache, c_job())
    await events_of(cache, c_job(options=("-DX",)))
    await events_of(cache, c_job(b"int main(){return 2;}"))
    assert all(job.compile is not None for job in inner.jobs)


@pytest.mark.parametrize(
    "compiled",
    [
        compiled_result(exit_code=1),
        compiled_result(exit_code=137, signal=9),
        compiled_result(output_limit=True),
    ],
)
async def test_only_a_clean_compile_is_kept(tmp_path: Path, compiled: PhaseResult) -> None:
    inner = FakeCompilingSandboxes(compiled)
    cache = cache_over(inner, tmp_path)
    await events_of(cache, c_job())
    await events_of(cache, c_job())
    assert [job.compile is not None for job in inner.jobs] == [True, True]


async def test_a_compile_slower_than_the_jobs_compile_limit_is_not_replayed(
    tmp_path: Path,
) -> None:
    inner = FakeCompilingSandboxes()
    cache = cache_over(inner, tmp_path)
    await events_of(cache, c_job())
    # The kept compile took 1.5 s: under a 1 s limit it would have timed out.
    await events_of(cache, c_job(timeout_s=1.0))
    assert inner.jobs[1].compile is not None


async def test_jobs_of_one_program_at_once_compile_it_once(tmp_path: Path) -> None:
    inner = FakeCompilingSandboxes()
    inner.gate = asyncio.Event()
    cache = cache_over(inner, tmp_path)
    runs = [asyncio.create_task(events_of(cache, c_job(stdin=bytes([n])))) for n in range(5)]
    await asyncio.sleep(0.05)
    inner.gate.set()
    results = await asyncio.gather(*runs)
    assert [job.compile is not None for job in inner.jobs].count(True) == 1
    assert all(events == results[0] for events in results)


async def test_a_job_without_artifacts_to_keep_passes_through(tmp_path: Path) -> None:
    inner = FakeCompilingSandboxes()
    cache = cache_over(inner, tmp_path)
    interpreted = replace(c_job(), compile=None, files=(inner.binary,))
    uncollected = with_step(c_job(), artifacts=())
    for job in (interpreted, uncollected, uncollected):
        await events_of(cache, job)
    assert inner.jobs == [interpreted, uncollected, uncollected]
    assert not (tmp_path / "entries").exists()


@pytest.mark.parametrize("unknown", ["id", "version"])
async def test_an_image_of_unknown_identity_is_not_cached(tmp_path: Path, unknown: str) -> None:
    async def no_id(image: str) -> str | None:
        return None

    async def no_version(image: str) -> str | None:
        return None

    inner = FakeCompilingSandboxes()
    if unknown == "version":
        inner.image_version = no_version
    store = CompileStore(tmp_path, 10 * MB, DAY_S)
    cache = CompileCache(inner, store, no_id if unknown == "id" else image_id)
    await events_of(cache, c_job())
    await events_of(cache, c_job())
    assert [job.compile is not None for job in inner.jobs] == [True, True]
    assert inner.jobs[0].artifacts_max_bytes == 0
