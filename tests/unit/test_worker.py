"""worker.Worker with a fake sandbox: jobs and live runs, failures, stopping."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest

from runakode.brokers.memory import MemoryBroker
from runakode.config import Settings
from runakode.errors import PoisonJob, SandboxError
from runakode.models import Job, JobFile, Status, Verdict
from runakode.sandboxes.base import PhaseResult, ProgramInput, SandboxResult
from runakode.streaming import OutputChunk, SessionFinished, SessionStarted, Stage, StageEnded
from runakode.worker import Worker
from unit.fakes import FakeSandbox, ok_sandbox_result

LANGS = ["python", "go", "java"]
JAVA_SOLUTION = "public class Solution {\n  public static void main(String[] a) {}\n}\n"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        jobTimeout="3s",
        outputMaxBytes=4096,
        jobMemory="256m",
        jobCpu="0.5",
        supportedLanguages=LANGS,
        sandboxImages={name: f"{name}-img" for name in LANGS},
    )


@pytest.fixture
def sandbox() -> FakeSandbox:
    return FakeSandbox(ok_sandbox_result())


@pytest.fixture
async def worker(settings: Settings, sandbox: FakeSandbox) -> AsyncIterator[Worker]:
    """A worker on the memory broker, with a fake sandbox; not started."""
    broker = MemoryBroker(max_length=10)
    worker = Worker(settings, broker, sandbox)
    yield worker
    await broker.close()


async def test_run_job_returns_the_sandbox_result(
    worker: Worker, sandbox: FakeSandbox, make_job: Callable[..., Job]
) -> None:
    result = await worker.run_job(make_job())
    assert (result.stdout, result.status, result.exit_code) == ("hello\n", Status.OK, 0)
    # The program's own measurements, and which language and version ran the job.
    assert (result.cpu_time_ms, result.memory_kb, result.exec_time_ms) == (5, 9000, 12)
    assert (result.language, result.version) == ("python", None)
    assert result.verdict is None
    assert len(sandbox.jobs) == 1
    assert worker.in_flight == 0


@pytest.mark.parametrize(
    ("expected", "verdict"),
    [("hello", Verdict.ACCEPTED), ("hello  \n\n", Verdict.ACCEPTED), ("bye", Verdict.WRONG_ANSWER)],
)
async def test_expected_output_gives_a_verdict(
    worker: Worker, make_job: Callable[..., Job], expected: str, verdict: Verdict
) -> None:
    job = make_job().model_copy(update={"expected_output": expected})
    assert (await worker.run_job(job)).verdict == verdict


async def test_unserved_language_is_a_poison_job(
    worker: Worker, sandbox: FakeSandbox, make_job: Callable[..., Job]
) -> None:
    with pytest.raises(PoisonJob, match="fsharp"):
        await worker.run_job(make_job(language="fsharp"))
    assert sandbox.jobs == []


@pytest.mark.parametrize(
    ("error", "message"),
    [(SandboxError("docker died"), "sandbox engine"), (RuntimeError("bug"), "worker failed")],
)
async def test_sandbox_failures_become_internal_errors(
    worker: Worker,
    sandbox: FakeSandbox,
    make_job: Callable[..., Job],
    error: Exception,
    message: str,
) -> None:
    sandbox.error = error
    result = await worker.run_job(make_job())
    assert result.status == Status.INTERNAL_ERROR
    assert message in result.stderr
    assert worker.in_flight == 0


async def test_run_job_sets_poison_jobs_aside_without_running_them(
    worker: Worker, sandbox: FakeSandbox, make_job: Callable[..., Job]
) -> None:
    with pytest.raises(PoisonJob):
        await worker.run_job(
            make_job().model_copy(update={"files": [JobFile(name="main.py", content="x")]})
        )
    assert sandbox.jobs == []
    assert worker.in_flight == 0


async def test_run_job_runs_a_rich_job(worker: Worker, sandbox: FakeSandbox) -> None:
    rich = Job(
        id="job-1",
        language="java",
        source_code=JAVA_SOLUTION,
        stdin="in\n",
        args=["a"],
        files=[JobFile(name="data.txt", content="1")],
        timeout_s=2.0,
        merge_output=True,
    )
    result = await worker.run_job(rich)
    assert result.status == Status.OK
    assert result.language == "java"
    [sandbox_job] = sandbox.jobs
    assert sandbox_job.job_id == "job-1"
    assert [file.name for file in sandbox_job.files] == ["Solution.java", "data.txt"]
    assert (sandbox_job.stdin, sandbox_job.limits.wall_time_s, sandbox_job.merge_output) == (
        b"in\n",
        2.0,
        True,
    )


async def test_stop_waits_for_running_jobs(
    worker: Worker, sandbox: FakeSandbox, make_job: Callable[..., Job]
) -> None:
    sandbox.gate = asyncio.Event()
    running = asyncio.create_task(worker.run_job(make_job()))
    await asyncio.sleep(0)
    assert worker.in_flight == 1

    stopping = asyncio.create_task(worker.stop(grace_s=5))
    await asyncio.sleep(0.01)
    assert not stopping.done()
    assert not sandbox.closed

    sandbox.gate.set()
    await asyncio.wait_for(stopping, 2)
    assert running.done()
    assert sandbox.closed


async def test_stop_gives_up_after_the_grace_period(
    worker: Worker,
    sandbox: FakeSandbox,
    make_job: Callable[..., Job],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox.gate = asyncio.Event()  # never opened: the job would run forever
    running = asyncio.create_task(worker.run_job(make_job()))
    await asyncio.sleep(0)
    assert worker.in_flight == 1
    job_ended_before_close: list[bool] = []
    close = sandbox.close

    async def close_after_the_job() -> None:
        job_ended_before_close.append(running.done())
        await close()

    monkeypatch.setattr(sandbox, "close", close_after_the_job)

    stopping = asyncio.create_task(worker.stop(grace_s=0.2))
    await asyncio.sleep(0.02)
    # Within the grace period the job is left to run.
    assert not stopping.done()
    assert not running.done()

    await asyncio.wait_for(stopping, 2)
    # Past it the worker cancelled the job itself, waited for it, then closed the sandboxes.
    assert running.cancelled()
    assert worker.in_flight == 0
    assert job_ended_before_close == [True]
    assert sandbox.closed


# --- live runs: sandbox events as session events ----------------------------------------------


async def test_worker_streams_decoded_text_and_stage_ends(
    make_settings: Callable[..., Settings], make_job: Callable[..., Job]
) -> None:
    snowman = "☃".encode()
    run = PhaseResult(stdout=b"a" + snowman, stderr=b"", exit_code=0, signal=None, wall_time_ms=5)
    sandbox = SplitOutputSandbox(SandboxResult(Status.OK, None, run), cut=2)
    worker = Worker(make_settings(), MemoryBroker(1), sandbox)
    controls: ProgramInput = asyncio.Queue()
    events = [e async for e in worker.run_session(make_job(), controls)]
    assert isinstance(events[0], SessionStarted) and events[0].language == "python"
    texts = [e.data for e in events if isinstance(e, OutputChunk)]
    # The snowman was split between two chunks and still arrives whole.
    assert "".join(texts) == "a☃" and all("\ufffd" not in t for t in texts)
    (ended,) = [e for e in events if isinstance(e, StageEnded)]
    assert (ended.stage, ended.status, ended.exit_code) == (Stage.RUN, Status.OK, 0)
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.result.stdout == ""
    assert sandbox.controls is controls


async def test_worker_session_for_a_language_it_does_not_serve(
    make_settings: Callable[..., Settings], make_job: Callable[..., Job]
) -> None:
    worker = Worker(make_settings(), MemoryBroker(1), FakeSandbox(ok_sandbox_result()))
    events = [e async for e in worker.run_session(make_job(language="fsharp"), asyncio.Queue())]
    assert len(events) == 1 and isinstance(events[0], SessionFinished)
    assert events[0].result.status == Status.INTERNAL_ERROR


class SplitOutputSandbox(FakeSandbox):
    """Sends the run's stdout in two chunks cut at `cut` bytes."""

    def __init__(self, result: SandboxResult, cut: int) -> None:
        super().__init__(result)
        self.cut = cut

    async def stream(self, job: Any, controls: Any = None) -> AsyncGenerator[Any, None]:
        from runakode.sandboxes.base import Output, Phase, Stream

        async for event in super().stream(job, controls):
            if isinstance(event, Output):
                yield Output(Phase.RUN, Stream.STDOUT, event.data[: self.cut])
                yield Output(Phase.RUN, Stream.STDOUT, event.data[self.cut :])
            else:
                yield event


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (SandboxError("engine down"), "sandbox engine failed"),
        (RuntimeError("bug"), "worker failed"),
    ],
)
async def test_a_failure_under_a_live_run_ends_it_with_an_internal_error(
    make_settings: Callable[..., Settings],
    make_job: Callable[..., Job],
    error: Exception,
    words: str,
) -> None:
    sandbox = FakeSandbox(ok_sandbox_result())
    sandbox.error = error
    worker = Worker(make_settings(), MemoryBroker(1), sandbox)
    events = [e async for e in worker.run_session(make_job(), asyncio.Queue())]
    assert isinstance(events[0], SessionStarted)
    finished = events[-1]
    assert isinstance(finished, SessionFinished)
    assert finished.result.status == Status.INTERNAL_ERROR and words in finished.result.stderr
