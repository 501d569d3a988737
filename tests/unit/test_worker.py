"""worker.Worker with a fake sandbox: job mapping, failures, draining."""

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from runakode.config import Settings
from runakode.errors import PoisonJob, SandboxError
from runakode.jobs import native_sandbox_job
from runakode.languages import LANGUAGES
from runakode.models import Job, Status, Verdict
from runakode.sandboxes import RunLimits, SandboxSpec
from runakode.sandboxes.base import Prestart
from runakode.worker import Worker
from unit.fakes import FakeSandbox


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        jobTimeout="3s",
        outputMaxBytes=4096,
        jobMemory="256m",
        jobCpu="0.5",
        supportedLanguages=["python", "go"],
        sandboxImages={"python": "py-img", "go": "go-img"},
    )


def test_python_sandbox_job(settings: Settings, make_job: Callable[..., Job]) -> None:
    job = make_job("print('é')")
    sandbox_job = native_sandbox_job(settings, job, LANGUAGES["python"])

    assert sandbox_job.job_id == job.id
    prestart = Prestart(("python3", "main.py"), "main.py")
    assert sandbox_job.spec == SandboxSpec("py-img", 256 << 20, 0.5, prestart)
    assert sandbox_job.fits_prestart
    assert [(f.name, f.content) for f in sandbox_job.files] == [("main.py", "print('é')".encode())]
    assert sandbox_job.run_argv == ("python3", "main.py")
    assert sandbox_job.compile is None
    assert sandbox_job.limits == RunLimits(wall_time_s=3.0, output_max_bytes=4096)
    assert sandbox_job.deadline_s == 3.0


def test_go_sandbox_job_compiles(settings: Settings, make_job: Callable[..., Job]) -> None:
    sandbox_job = native_sandbox_job(settings, make_job("package main", "go"), LANGUAGES["go"])
    assert sandbox_job.spec.image == "go-img"
    assert sandbox_job.files[0].name == "main.go"
    assert sandbox_job.compile is not None
    assert sandbox_job.compile.argv == ("runakode-go-build",)
    # Go's own compile deadline (20 s) under the operator's compileTimeout, apart from jobTimeout.
    assert sandbox_job.compile.timeout_s == min(20.0, settings.compile_timeout_s)
    assert sandbox_job.deadline_s == sandbox_job.compile.timeout_s + settings.job_timeout_s


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


def test_only_the_prestarted_command_with_a_suitable_source_runs_warm(
    make_settings: Callable[..., Settings], make_job: Callable[..., Job]
) -> None:
    settings = make_settings(supportedLanguages=["ruby"])
    ruby = LANGUAGES["ruby"]
    plain = native_sandbox_job(settings, make_job("puts 1", language="ruby"), ruby)
    assert plain.fits_prestart
    with_args = dataclasses.replace(plain, run_argv=(*plain.run_argv, "x"))
    assert not with_args.fits_prestart
    for head in ("#!/usr/bin/ruby -w\n", "# encoding: ascii-8bit\n", "\ufeff"):
        source = native_sandbox_job(settings, make_job(head + "puts 1", language="ruby"), ruby)
        assert not source.fits_prestart, head
    merged = dataclasses.replace(plain, merge_output=True)
    assert not merged.fits_prestart
