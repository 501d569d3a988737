"""sandboxes/results.py: how a launcher's reports (or their absence) become a job's result."""

import json

import pytest

from runakode.models import Status
from runakode.sandboxes.base import Stream, TimeLimit
from runakode.sandboxes.launcher_protocol import (
    FRAME,
    RUN_DONE,
    RUN_STDERR,
    RUN_STDOUT,
    LauncherOutput,
)
from runakode.sandboxes.results import abnormal_result, finished_result

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
