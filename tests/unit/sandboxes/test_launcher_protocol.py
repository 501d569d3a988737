"""sandboxes.launcher_protocol: the job header sent in, and the frames read back."""

import base64
import json
from typing import Any

import pytest

from runakode.sandboxes import (
    CompileStep,
    RunLimits,
    SandboxFile,
    SandboxJob,
    SandboxSpec,
    hardening,
)
from runakode.sandboxes.base import TimeLimit
from runakode.sandboxes.launcher_protocol import (
    COMPILE_DONE,
    COMPILE_STDERR,
    FRAME,
    HEADER,
    LAUNCHER_ERROR,
    MAX_FRAME_BYTES,
    MAX_REPORT_BYTES,
    MAX_TASKS,
    RUN_DONE,
    RUN_STDERR,
    RUN_STDOUT,
    LauncherOutput,
    PhaseReport,
    encode_job,
)

REPORT = {
    "exit_code": 0,
    "signal": None,
    "time_ms": 17,
    "cpu_time_ms": 12,
    "memory_kb": 9000,
    "time_limit": None,
    "timed_out": False,
    "memory_exceeded": False,
    "output_limit": False,
    "truncated": False,
}


TOKEN = bytes(range(16))


def frame(kind: bytes, payload: bytes, token: bytes = TOKEN) -> bytes:
    return token + FRAME.pack(kind, len(payload)) + payload


def report(**changes: object) -> bytes:
    return frame(RUN_DONE, json.dumps({**REPORT, **changes}).encode())


def summary(output: LauncherOutput) -> tuple[object, ...]:
    return (
        output.stdout.text(),
        output.stderr.text(),
        output.stdout.truncated,
        output.run_report,
        output.launcher_error,
        output.malformed,
        output.finished,
    )


def decode_header(encoded: bytes) -> dict[str, object]:
    (size,) = HEADER.unpack(encoded[: HEADER.size])
    body = encoded[HEADER.size :]
    assert size == len(body)
    return json.loads(body)


# --- encode_job -------------------------------------------------------------------------------


def make_job(
    *,
    files: tuple[SandboxFile, ...] = (),
    run_argv: tuple[str, ...] = ("true",),
    stdin: bytes = b"",
    merge_output: bool = False,
    compile: CompileStep | None = None,
    **limits: Any,
) -> SandboxJob:
    limits.setdefault("wall_time_s", 1.0)
    limits.setdefault("output_max_bytes", 1 << 20)
    return SandboxJob(
        job_id="j",
        spec=SandboxSpec("python-runner", 1 << 30, 1.0),
        files=files,
        run_argv=run_argv,
        limits=RunLimits(**limits),
        stdin=stdin,
        merge_output=merge_output,
        compile=compile,
    )


def test_encode_job_round_trip() -> None:
    job = make_job(
        files=(
            SandboxFile("main.py", b"print('hi')\n"),
            SandboxFile("bin/tool", b"\x00\xff binary", executable=True),
        ),
        run_argv=("python3", "main.py"),
        wall_time_s=2.5,
        stdin=b"input \xff",
        output_max_bytes=999,
    )
    header = decode_header(encode_job(job, TOKEN))

    assert [
        (f["name"], base64.b64decode(f["content"]), f["executable"]) for f in header["files"]
    ] == [
        ("main.py", b"print('hi')\n", False),
        ("bin/tool", b"\x00\xff binary", True),
    ]
    assert header["run"] == {
        "argv": ["python3", "main.py"],
        "timeout_s": 2.5,
        "merge_output": False,
        "cpu_time_limit_s": None,
        "cpu_kill_s": None,
        "memory_limit_kb": None,
        "rlimits": {},
    }
    assert base64.b64decode(header["stdin"]) == b"input \xff"
    assert header["output_max_bytes"] == 999
    assert "compile" not in header


def test_encode_job_maps_every_run_limit() -> None:
    job = make_job(
        run_argv=("./main",),
        merge_output=True,
        wall_time_s=5.0,
        cpu_time_s=2.0,
        cpu_extra_s=0.5,
        memory_bytes=128_000 * 1024,
        stack_bytes=64_000 * 1024,
        max_tasks=60,
        file_size_bytes=1024 * 1024,
    )
    assert decode_header(encode_job(job, TOKEN))["run"] == {
        "argv": ["./main"],
        "timeout_s": 5.0,
        "merge_output": True,
        "cpu_time_limit_s": 2.0,
        "cpu_kill_s": 2.5,
        "memory_limit_kb": 128_000,
        "rlimits": {
            # The kernel's backstop, past the launcher's own kill point.
            "CPU": 4,
            "STACK": 64_000 * 1024,
            # The launcher and the spawn helper are two of the sandbox user's tasks.
            "NPROC": 62,
            "FSIZE": 1024 * 1024,
        },
    }


@pytest.mark.parametrize(
    ("cpu_time_s", "cpu_extra_s", "cpu_kill_s", "cpu_rlimit_s"),
    [(1.0, 0.0, 1.0, 2), (0.2, 1.0, 1.2, 3), (15.0, 5.0, 20.0, 21), (0.001, 0.0, 0.001, 2)],
)
def test_cpu_limits(
    cpu_time_s: float, cpu_extra_s: float, cpu_kill_s: float, cpu_rlimit_s: int
) -> None:
    job = make_job(cpu_time_s=cpu_time_s, cpu_extra_s=cpu_extra_s)
    run = decode_header(encode_job(job, TOKEN))["run"]
    assert run["cpu_time_limit_s"] == cpu_time_s
    assert run["cpu_kill_s"] == pytest.approx(cpu_kill_s)
    assert run["rlimits"] == {"CPU": cpu_rlimit_s}


def test_cpu_extra_alone_sets_no_cpu_limit() -> None:
    run = decode_header(encode_job(make_job(cpu_extra_s=1.0), TOKEN))["run"]
    assert (run["cpu_time_limit_s"], run["cpu_kill_s"], run["rlimits"]) == (None, None, {})


def test_per_process_memory_is_an_address_space_rlimit() -> None:
    job = make_job(memory_bytes=256 << 20, per_process_memory=True)
    run = decode_header(encode_job(job, TOKEN))["run"]
    assert run["memory_limit_kb"] is None
    assert run["rlimits"] == {"AS": 256 << 20}


def test_memory_limit_rounds_up_to_whole_kib() -> None:
    run = decode_header(encode_job(make_job(memory_bytes=1025), TOKEN))["run"]
    assert run["memory_limit_kb"] == 2
    assert run["rlimits"] == {}


def test_encode_job_with_compile_phase() -> None:
    job = make_job(
        files=(SandboxFile("main.go", b"package main"),),
        run_argv=("./main",),
        compile=CompileStep(("go", "build", "-o", "main", "main.go"), 4, 32 << 10, True),
        cpu_time_s=1.0,
    )
    header = decode_header(encode_job(job, TOKEN))
    assert header["compile"] == {
        "argv": ["go", "build", "-o", "main", "main.go"],
        "timeout_s": 4,
        "output_max_bytes": 32 << 10,
        "kill_on_output_limit": False,
        "merge_output": True,
    }


# --- LauncherOutput ---------------------------------------------------------------------------

STREAM = (
    frame(RUN_STDOUT, b"hello ")
    + frame(RUN_STDERR, b"oops\n")
    + frame(RUN_STDOUT, b"")
    + frame(RUN_STDOUT, "wörld\n".encode())
    + report(exit_code=3, time_ms=40)
)


def test_whole_stream() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(STREAM)
    assert output.stdout.text() == "hello wörld\n"
    assert output.stderr.text() == "oops\n"
    assert output.run_report == PhaseReport(3, None, 40, False, False, 12, 9000)
    assert output.finished
    assert not output.malformed


def test_split_at_every_byte_boundary_gives_the_same_result() -> None:
    whole = LauncherOutput(TOKEN, 1024, 1024)
    whole.feed(STREAM)
    for cut in range(len(STREAM) + 1):
        output = LauncherOutput(TOKEN, 1024, 1024)
        output.feed(STREAM[:cut])
        output.feed(STREAM[cut:])
        assert summary(output) == summary(whole), f"cut at {cut}"


def test_byte_by_byte_gives_the_same_result() -> None:
    whole = LauncherOutput(TOKEN, 1024, 1024)
    whole.feed(STREAM)
    output = LauncherOutput(TOKEN, 1024, 1024)
    for index in range(len(STREAM)):
        output.feed(STREAM[index : index + 1])
    assert summary(output) == summary(whole)


def test_not_finished_before_the_report() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(STREAM[:-1])
    assert not output.finished
    output.feed(STREAM[-1:])
    assert output.finished


def test_output_is_capped_and_marked_truncated() -> None:
    output = LauncherOutput(TOKEN, 5, 5)
    output.feed(
        frame(RUN_STDOUT, b"hel") + frame(RUN_STDOUT, b"lo world") + frame(RUN_STDERR, b"ab")
    )
    assert output.stdout.text() == "hello"
    assert output.stdout.truncated
    assert output.stderr.text() == "ab"
    assert not output.stderr.truncated


def test_output_exactly_at_the_cap_is_not_truncated() -> None:
    output = LauncherOutput(TOKEN, 5, 5)
    output.feed(frame(RUN_STDOUT, b"12") + frame(RUN_STDOUT, b"345") + frame(RUN_STDOUT, b""))
    assert output.stdout.text() == "12345"
    assert not output.stdout.truncated


def test_oversize_frame_is_malformed_and_stops_parsing() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(TOKEN + FRAME.pack(RUN_STDOUT, MAX_FRAME_BYTES + 1))  # the header alone is enough
    assert output.malformed
    output.feed(frame(RUN_STDOUT, b"after") + report())
    assert output.stdout.text() == ""
    assert output.run_report is None
    assert not output.finished


def test_frame_of_exactly_the_maximum_is_accepted() -> None:
    output = LauncherOutput(TOKEN, 16, 16)
    output.feed(frame(RUN_STDOUT, b"x" * MAX_FRAME_BYTES))
    assert not output.malformed
    assert output.stdout.text() == "x" * 16
    assert output.stdout.truncated


@pytest.mark.parametrize("kind", [b"Z", b"\x00", b"5"])
def test_unknown_frame_kind_is_malformed(kind: bytes) -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(kind, b"?"))
    assert output.malformed
    output.feed(report())
    assert output.run_report is None


def test_second_run_report_is_malformed() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(report(exit_code=0) + report(exit_code=1))
    assert output.run_report is not None and output.run_report.exit_code == 0
    assert output.malformed


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        json.dumps({**REPORT, "exit_code": "zero"}).encode(),
        json.dumps({**REPORT, "time_ms": None}).encode(),
        json.dumps({**REPORT, "signal": "KILL"}).encode(),
        b'{"exit_code": NaN, "time_ms": 1, "timed_out": 0, "output_limit": 0, "truncated": 0}',
        json.dumps({**REPORT, "padding": "x" * MAX_REPORT_BYTES}).encode(),
        json.dumps({**REPORT, "cpu_time_ms": "12"}).encode(),
        json.dumps({**REPORT, "cpu_time_ms": 1.5}).encode(),
        json.dumps({**REPORT, "cpu_time_ms": True}).encode(),
        json.dumps({**REPORT, "cpu_time_ms": 1 << 60}).encode(),
        json.dumps({**REPORT, "memory_kb": [1]}).encode(),
        json.dumps({**REPORT, "memory_kb": {"peak": 1}}).encode(),
        json.dumps({**REPORT, "time_limit": "forever"}).encode(),
        json.dumps({**REPORT, "time_limit": 1}).encode(),
        json.dumps({**REPORT, "time_limit": True}).encode(),
        json.dumps({**REPORT, "memory_exceeded": 1}).encode(),
        json.dumps({**REPORT, "memory_exceeded": "false"}).encode(),
        json.dumps({**REPORT, "output_limit": None}).encode(),
        json.dumps({**REPORT, "exit_code": True}).encode(),
        json.dumps({**REPORT, "exit_code": 1 << 60}).encode(),
        b'{"exit_code": 0, "signal": null, "time_ms": 1, "time_limit": null, "output_limit": '
        + b'false, "truncated": false, "memory_kb": 1'
        + b"0" * 5000
        + b"}",
    ],
)
def test_garbage_report_is_none(payload: bytes) -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(RUN_DONE, payload))
    assert output.run_report is None
    assert not output.finished


def test_report_fields_are_normalised() -> None:
    changes = {"time_ms": -5, "signal": 9, "cpu_time_ms": -1, "memory_kb": None}
    parsed = PhaseReport.parse(json.dumps({**REPORT, **changes}).encode())
    assert parsed == PhaseReport(0, 9, 0, False, False, 0, None)


@pytest.mark.parametrize(
    ("time_limit", "expected"),
    [(None, None), ("wall", TimeLimit.WALL), ("cpu", TimeLimit.CPU)],
)
def test_time_limit_is_parsed(time_limit: str | None, expected: TimeLimit | None) -> None:
    changes = {"time_limit": time_limit, "timed_out": time_limit is not None}
    parsed = PhaseReport.parse(json.dumps({**REPORT, **changes}).encode())
    assert parsed is not None
    assert parsed.time_limit == expected
    assert parsed.timed_out == (expected is not None)


def test_usage_and_memory_exceeded_are_parsed() -> None:
    changes = {"cpu_time_ms": 1530, "memory_kb": 262_144, "memory_exceeded": True}
    parsed = PhaseReport.parse(json.dumps({**REPORT, **changes}).encode())
    assert parsed == PhaseReport(
        0, None, 17, False, False, cpu_time_ms=1530, memory_kb=262_144, memory_exceeded=True
    )


def test_a_report_without_usage_has_none() -> None:
    # What a launcher that could not start the program sends, and all an older launcher knew.
    legacy = {key: REPORT[key] for key in ("exit_code", "signal", "time_ms", "output_limit")}
    parsed = PhaseReport.parse(
        json.dumps({**legacy, "truncated": True, "timed_out": True}).encode()
    )
    assert parsed == PhaseReport(0, None, 17, False, True, time_limit=TimeLimit.WALL)
    assert parsed.cpu_time_ms is None and parsed.memory_kb is None
    assert not parsed.memory_exceeded


def test_a_cpu_time_out_finishes_a_failed_compile() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    compile_report = json.dumps({**REPORT, "time_limit": "cpu", "timed_out": True}).encode()
    output.feed(frame(COMPILE_DONE, compile_report))
    assert output.finished


def test_for_job_caps_each_phase_as_the_job_says() -> None:
    job = make_job(output_max_bytes=4, compile=CompileStep(("cc",), 1.0, 2))
    output = LauncherOutput.for_job(job, TOKEN)
    output.feed(frame(RUN_STDOUT, b"123456") + frame(COMPILE_STDERR, b"abc"))
    assert bytes(output.stdout) == b"1234" and output.stdout.truncated
    assert bytes(output.compile_stderr) == b"ab" and output.compile_stderr.truncated


def test_for_job_without_a_compile_step() -> None:
    output = LauncherOutput.for_job(make_job(output_max_bytes=8), TOKEN)
    output.feed(frame(RUN_STDERR, b"\xff\x00 raw bytes") + report())
    assert bytes(output.stderr) == b"\xff\x00 raw b"
    assert output.finished


def test_buffers_keep_the_raw_bytes() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(RUN_STDOUT, b"ok \xff\xfe end"))
    assert bytes(output.stdout) == b"ok \xff\xfe end"
    assert output.stdout.data == bytearray(b"ok \xff\xfe end")


def test_non_utf8_output_decodes_with_replacement() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(RUN_STDOUT, b"ok \xff\xfe end") + frame(RUN_STDERR, "é".encode()[:1]))
    assert output.stdout.text() == "ok \ufffd\ufffd end"
    assert output.stderr.text() == "\ufffd"


def test_launcher_error_finishes() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(LAUNCHER_ERROR, b"refusing file name '../x' \xff"))
    assert output.launcher_error == "refusing file name '../x' \ufffd"
    assert output.finished


def test_failed_compile_finishes_without_a_run_report() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    compile_report = json.dumps({**REPORT, "exit_code": 2}).encode()
    output.feed(frame(COMPILE_STDERR, b"syntax error") + frame(COMPILE_DONE, compile_report))
    assert output.compile_stderr.text() == "syntax error"
    assert output.compile_report is not None and output.compile_report.exit_code == 2
    assert output.finished


def test_successful_compile_is_not_finished() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(COMPILE_DONE, json.dumps(REPORT).encode()))
    assert not output.finished


# --- known bugs (see the report) --------------------------------------------------------------


def test_malformed_frame_stops_parsing_within_the_same_chunk() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(b"Z", b"") + frame(RUN_STDOUT, b"after") + report())
    assert output.malformed
    assert output.stdout.text() == ""
    assert not output.finished


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "1e400"])
def test_infinite_numbers_in_a_report_are_garbage(number: str) -> None:
    payload = json.dumps(REPORT).replace('"exit_code": 0', f'"exit_code": {number}')
    output = LauncherOutput(TOKEN, 1024, 1024)
    output.feed(frame(RUN_DONE, payload.encode()))
    assert output.run_report is None


def test_a_frame_without_the_jobs_token_is_rejected() -> None:
    output = LauncherOutput(TOKEN, 1024, 1024)
    forged = frame(RUN_STDOUT, b"forged", token=bytes(16)) + report()
    output.feed(forged)
    assert output.malformed
    assert output.stdout.text() == ""
    assert not output.finished


def test_encode_job_sends_the_token() -> None:
    assert decode_header(encode_job(make_job(), TOKEN))["token"] == TOKEN.hex()


def test_max_tasks_leaves_room_for_the_launcher() -> None:
    run = decode_header(encode_job(make_job(max_tasks=MAX_TASKS), TOKEN))["run"]
    assert run["rlimits"] == {"NPROC": hardening.RLIMITS["nproc"]}
