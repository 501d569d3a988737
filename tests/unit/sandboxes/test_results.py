"""sandboxes/results.py: how a launcher's reports (or their absence) become a job's result."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from runakode.models import Status
from runakode.sandboxes.base import PhaseResult, Stream, TimeLimit
from runakode.sandboxes.launcher_protocol import (
    COMPILE_DONE,
    COMPILE_STDERR,
    COMPILE_STDOUT,
    FRAME,
    LAUNCHER_ERROR,
    RUN_DONE,
    RUN_STDERR,
    RUN_STDOUT,
    LauncherOutput,
)
from runakode.sandboxes.results import (
    abnormal_result,
    compile_result,
    finished_result,
    run_result,
    run_status,
)

TOKEN = b"t" * 16
CAP = 10


def output_of(*frames: tuple[bytes, bytes]) -> LauncherOutput:
    output = LauncherOutput(TOKEN, CAP, CAP)
    for kind, payload in frames:
        output.feed(TOKEN + FRAME.pack(kind, len(payload)) + payload)
    return output


def done(**fields: object) -> tuple[bytes, bytes]:
    report = {
        "exit_code": 0,
        "signal": None,
        "time_ms": 3,
        "output_limit": False,
        "truncated": False,
        "time_limit": None,
        **fields,
    }
    return RUN_DONE, json.dumps(report).encode()


@pytest.mark.parametrize(
    ("flood", "stream"),
    [((RUN_STDOUT, b"x" * CAP), Stream.STDOUT), ((RUN_STDERR, b"e" * CAP), Stream.STDERR)],
)
def test_the_stream_that_reached_its_cap_is_the_flooded_one(
    flood: tuple[bytes, bytes], stream: Stream
) -> None:
    result = finished_result(
        output_of((RUN_STDOUT, b"ok"), flood, done(output_limit=True, truncated=True))
    )
    assert result.status == Status.OUTPUT_LIMIT
    assert result.run is not None and result.run.flooded == stream


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, Status.OK),
        ({"exit_code": 3}, Status.RUNTIME_ERROR),
        ({"exit_code": 137, "signal": 9}, Status.RUNTIME_ERROR),
        ({"time_limit": "cpu"}, Status.TIMEOUT),
        ({"memory_exceeded": True, "exit_code": 137}, Status.MEMORY_LIMIT),
    ],
)
def test_a_finished_run_gets_the_status_its_report_says(
    fields: dict[str, object], status: Status
) -> None:
    result = finished_result(output_of(done(**fields)))
    assert result.status == status
    assert result.run is not None and result.run.flooded is None


def test_a_sandbox_that_hung_is_a_wall_time_out() -> None:
    result = abnormal_result(
        output_of((RUN_STDOUT, b"partial")), False, 137, host_timeout=True, elapsed_ms=5
    )
    assert result.status == Status.TIMEOUT
    assert result.run is not None and result.run.time_limit == TimeLimit.WALL
    assert result.run.stdout == b"partial" and result.note


def test_an_oom_killed_sandbox_is_a_memory_limit() -> None:
    result = abnormal_result(output_of(), True, 137, host_timeout=False, elapsed_ms=5)
    assert result.status == Status.MEMORY_LIMIT
    assert result.run is not None and result.run.memory_exceeded


def compile_done(**fields: object) -> tuple[bytes, bytes]:
    return COMPILE_DONE, done(**fields)[1]


def phase(**fields: Any) -> PhaseResult:
    return PhaseResult(
        **{
            "stdout": b"",
            "stderr": b"",
            "exit_code": 0,
            "signal": None,
            "wall_time_ms": 1,
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        # Each limit outranks the ones below it, and every limit outranks the exit code.
        (
            {"time_limit": TimeLimit.WALL, "memory_exceeded": True, "output_limit": True},
            Status.TIMEOUT,
        ),
        ({"time_limit": TimeLimit.CPU, "exit_code": 0}, Status.TIMEOUT),
        ({"memory_exceeded": True, "output_limit": True, "exit_code": 137}, Status.MEMORY_LIMIT),
        ({"output_limit": True, "exit_code": 1}, Status.OUTPUT_LIMIT),
        ({"output_limit": True}, Status.OUTPUT_LIMIT),
        ({"exit_code": 0}, Status.OK),
        ({"exit_code": 1}, Status.RUNTIME_ERROR),
        ({"exit_code": 137, "signal": 9}, Status.RUNTIME_ERROR),
    ],
)
def test_run_status_ranks_the_limits_before_the_exit_code(
    fields: dict[str, Any], status: Status
) -> None:
    assert run_status(phase(**fields)) == status


def test_no_report_is_no_phase_result() -> None:
    output = output_of((RUN_STDOUT, b"half"), (COMPILE_STDOUT, b"half"))
    assert compile_result(output) is None
    assert run_result(output) is None


def test_a_phase_result_carries_its_report_and_its_own_streams() -> None:
    output = output_of(
        (COMPILE_STDOUT, b"cc out"),
        (COMPILE_STDERR, b"cc err"),
        compile_done(time_ms=40, cpu_time_ms=30, memory_kb=900),
        (RUN_STDOUT, b"out"),
        (RUN_STDERR, b"err"),
        done(
            exit_code=2,
            time_ms=7,
            cpu_time_ms=5,
            memory_kb=1234,
            memory_exceeded=False,
            prestarted=True,
        ),
    )
    assert compile_result(output) == phase(
        stdout=b"cc out", stderr=b"cc err", wall_time_ms=40, cpu_time_ms=30, memory_kb=900
    )
    assert run_result(output) == phase(
        stdout=b"out",
        stderr=b"err",
        exit_code=2,
        wall_time_ms=7,
        cpu_time_ms=5,
        memory_kb=1234,
        prestarted=True,
    )


def test_a_stream_cut_at_its_cap_is_truncated_even_if_the_report_says_not() -> None:
    output = output_of((RUN_STDERR, b"e" * (CAP + 1)), done(truncated=False))
    result = run_result(output)
    assert result is not None
    assert result.truncated and result.stderr == b"e" * CAP
    # Not over the output limit: the launcher did not stop it (the host cut what it kept).
    assert not result.output_limit and result.flooded is None


def test_a_launcher_error_is_an_internal_error() -> None:
    result = finished_result(output_of((LAUNCHER_ERROR, b"refusing file name '../x'")))
    assert result.status == Status.INTERNAL_ERROR
    assert result.note == "sandbox launcher failed: refusing file name '../x'"
    assert (result.compile, result.run) == (None, None)


@pytest.mark.parametrize("fields", [{"exit_code": 1}, {"time_limit": "wall", "exit_code": 137}])
def test_a_failed_compile_is_a_compile_error_without_a_run(fields: dict[str, object]) -> None:
    result = finished_result(output_of((COMPILE_STDERR, b"no main"), compile_done(**fields)))
    assert result.status == Status.COMPILE_ERROR
    assert result.compile is not None and result.compile.stderr == b"no main"
    assert result.run is None


def test_after_a_compile_the_run_decides_the_status() -> None:
    result = finished_result(output_of(compile_done(), (RUN_STDOUT, b"hi"), done(exit_code=3)))
    assert result.status == Status.RUNTIME_ERROR
    assert result.compile is not None and result.compile.exit_code == 0
    assert result.run is not None and result.run.stdout == b"hi"


def malformed() -> LauncherOutput:
    output = output_of((RUN_STDOUT, b"before"))
    output.feed(b"x" * 64)  # not the job's token: a forged frame
    assert output.malformed
    return output


@pytest.mark.parametrize(
    ("output", "oom_killed", "host_timeout", "status", "note"),
    [
        # The engine's OOM flag outranks everything, then the host's own deadline, then what
        # the launcher's stream shows.
        (malformed, True, True, Status.MEMORY_LIMIT, "the program exceeded its memory limit"),
        (malformed, False, True, Status.TIMEOUT, "the sandbox stopped answering and was killed"),
        (
            malformed,
            False,
            False,
            Status.RUNTIME_ERROR,
            "the program corrupted the sandbox's output",
        ),
        (
            output_of,
            False,
            False,
            Status.RUNTIME_ERROR,
            "the program brought its sandbox down (exit status 139)",
        ),
    ],
)
def test_an_abnormal_end_is_judged_oom_then_host_timeout_then_malformed_then_crash(
    output: Callable[[], LauncherOutput],
    oom_killed: bool,
    host_timeout: bool,
    status: Status,
    note: str,
) -> None:
    result = abnormal_result(output(), oom_killed, 139, host_timeout=host_timeout, elapsed_ms=5)
    assert (result.status, result.note) == (status, note)
    assert result.run is not None
    assert result.run.memory_exceeded is oom_killed
    assert result.run.time_limit == (TimeLimit.WALL if host_timeout else None)


def test_an_abnormal_run_keeps_what_came_and_the_sandbox_s_exit() -> None:
    output = output_of(
        (COMPILE_STDOUT, b"built"),
        compile_done(),
        (RUN_STDOUT, b"o" * (CAP + 5)),
        (RUN_STDERR, b"err"),
    )
    result = abnormal_result(output, False, 139, host_timeout=False, elapsed_ms=321)
    assert result.compile is not None and result.compile.stdout == b"built"
    assert result.run == phase(
        stdout=b"o" * CAP, stderr=b"err", exit_code=139, wall_time_ms=321, truncated=True
    )


def test_a_sandbox_that_exited_0_without_a_report_counts_as_killed() -> None:
    result = abnormal_result(output_of(), False, 0, host_timeout=False, elapsed_ms=5)
    assert result.status == Status.RUNTIME_ERROR
    assert result.run is not None
    # What ended it is the sandbox's exit, never a signal the program received.
    assert (result.run.exit_code, result.run.signal) == (137, None)
