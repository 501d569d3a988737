"""submissions.runner: claim, run number_of_runs times, record once, call back (SQLite)."""

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from runakode.config import Settings
from runakode.models import Status, SubmissionTicket
from runakode.sandboxes import SandboxJob, SandboxResult
from runakode.submissions.record import Judge0Status, SubmissionRequest
from runakode.submissions.runner import MAX_ATTEMPTS, SubmissionRunner
from runakode.submissions.store import SubmissionStore
from unit.fakes import ok_sandbox_result

REQUEST = SubmissionRequest(source_code=b"print(1)", language_id=71)


class RecordedCallbacks:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def schedule(self, url: str, body: bytes, *, job_id: str) -> None:
        self.sent.append((url, json.loads(body)))


class Sandbox:
    def __init__(self) -> None:
        self.jobs: list[SandboxJob] = []
        self.result = ok_sandbox_result()

    async def __call__(self, job: SandboxJob) -> SandboxResult:
        self.jobs.append(job)
        return self.result


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SubmissionStore]:
    store = await SubmissionStore.open(f"sqlite:///{tmp_path}/store.db")
    yield store
    await store.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(supportedLanguages=["python", "go"])


@pytest.fixture
def callbacks() -> RecordedCallbacks:
    return RecordedCallbacks()


@pytest.fixture
def runner(
    settings: Settings, store: SubmissionStore, callbacks: RecordedCallbacks
) -> SubmissionRunner:
    return SubmissionRunner(settings, store, callbacks, "me")  # type: ignore[arg-type]


async def test_runs_records_and_calls_back_once(
    runner: SubmissionRunner, store: SubmissionStore, callbacks: RecordedCallbacks
) -> None:
    request = replace(REQUEST, callback_url="http://127.0.0.1:9/done", expected_output=b"hello")
    [created] = await store.create([request], None)
    sandbox = Sandbox()
    ran = await runner.run(SubmissionTicket(token=created.token), sandbox, redelivered=False)
    assert ran is not None and (ran.language, ran.status) == ("python", Status.OK)
    read = await store.get(created.token)
    assert read is not None and read.status == Judge0Status.ACCEPTED
    assert runner.holding == set()
    [(url, body)] = callbacks.sent
    assert url == "http://127.0.0.1:9/done"
    # Judge0's callback: the default fields, base64.
    assert list(body) == [
        "stdout",
        "time",
        "memory",
        "stderr",
        "token",
        "compile_output",
        "message",
        "status",
    ]
    assert base64.b64decode(str(body["stdout"])) == b"hello\n"
    # Delivered again (a broker's redelivery): not run, not recorded, not called back again.
    again = await runner.run(SubmissionTicket(token=created.token), sandbox, redelivered=True)
    assert again is None
    assert len(sandbox.jobs) == 1 and len(callbacks.sent) == 1


async def test_a_submission_lost_too_often_ends_as_an_internal_error(
    runner: SubmissionRunner, store: SubmissionStore
) -> None:
    [created] = await store.create([REQUEST], None)
    for attempt in range(MAX_ATTEMPTS):
        assert await store.claim(created.token, f"dead{attempt}", -1, redelivered=False)
    sandbox = Sandbox()
    await runner.run(SubmissionTicket(token=created.token), sandbox, redelivered=False)
    read = await store.get(created.token)
    assert read is not None and read.outcome is not None
    assert read.status == Judge0Status.INTERNAL_ERROR
    assert read.outcome.message is not None and "lost 3 times" in read.outcome.message
    assert sandbox.jobs == []


async def test_a_language_this_worker_does_not_serve_ends_as_an_internal_error(
    runner: SubmissionRunner, store: SubmissionStore
) -> None:
    [created] = await store.create([replace(REQUEST, language_id=50)], None)  # C
    sandbox = Sandbox()
    await runner.run(SubmissionTicket(token=created.token), sandbox, redelivered=False)
    read = await store.get(created.token)
    assert read is not None and read.outcome is not None
    assert read.status == Judge0Status.INTERNAL_ERROR
    assert read.outcome.message == "language with id 50 is not served by this worker"
    assert sandbox.jobs == []


async def test_the_service_failing_is_status_13_with_its_message(
    runner: SubmissionRunner, store: SubmissionStore
) -> None:
    [created] = await store.create([REQUEST], None)
    sandbox = Sandbox()
    sandbox.result = SandboxResult.internal_error("the sandbox engine failed; the job did not run")
    await runner.run(SubmissionTicket(token=created.token), sandbox, redelivered=False)
    read = await store.get(created.token)
    assert read is not None and read.outcome is not None
    assert (read.status, read.outcome.message) == (
        Judge0Status.INTERNAL_ERROR,
        "the sandbox engine failed; the job did not run",
    )


async def test_judge0_limits_and_arguments_reach_the_sandbox(
    runner: SubmissionRunner, store: SubmissionStore, settings: Settings
) -> None:
    request = replace(
        REQUEST,
        language_id=95,  # Go
        source_code=b"package main",
        compiler_options="-N -l",
        command_line_arguments="a 'b c' $(whoami) ;ls",
        cpu_time_limit=0,
        stack_limit=0,
        max_file_size=0,
        wall_time_limit=2.0,
        memory_limit=64000,
        max_processes_and_or_threads=10,
        redirect_stderr_to_stdout=True,
        stdin=b"\x00\xff",
    )
    [created] = await store.create([request], None)
    sandbox = Sandbox()
    await runner.run(SubmissionTicket(token=created.token), sandbox, redelivered=False)
    [job] = sandbox.jobs
    assert job.files[0].name == "main.go"
    assert job.compile is not None and job.compile.argv == ("runakode-go-build", "-N", "-l")
    assert job.compile.merge_output
    # Words as a shell would split them, but no shell: nothing is expanded or run.
    assert job.run_argv == ("./main", "a", "b c", "$(whoami)", ";ls")
    limits = job.limits
    # 0 is "no limit of its own" (as isolate); the sandbox's caps still hold.
    assert (limits.cpu_time_s, limits.stack_bytes, limits.file_size_bytes) == (None, None, None)
    assert limits.output_max_bytes == settings.output_max_bytes
    assert (limits.wall_time_s, limits.memory_bytes, limits.max_tasks) == (2.0, 64000 << 10, 10)
    assert (job.stdin, job.merge_output) == (b"\x00\xff", True)
