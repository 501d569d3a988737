"""sandboxes.launcher_protocol: the job header sent in, and the frames read back."""

import base64
import json

import pytest

from runakode.sandboxes import SandboxFile, SandboxJob
from runakode.sandboxes.launcher_protocol import (
    COMPILE_DONE,
    COMPILE_STDERR,
    FRAME,
    HEADER,
    LAUNCHER_ERROR,
    MAX_FRAME_BYTES,
    MAX_REPORT_BYTES,
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
    "timed_out": False,
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


def test_encode_job_round_trip() -> None:
    job = SandboxJob(
        job_id="j1",
        image="python-runner",
        files=(
            SandboxFile("main.py", b"print('hi')\n"),
            SandboxFile("bin/tool", b"\x00\xff binary", executable=True),
        ),
        run_argv=("python3", "main.py"),
        timeout_s=2.5,
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
    }
    assert base64.b64decode(header["stdin"]) == b"input \xff"
    assert header["output_max_bytes"] == 999
    assert "compile" not in header


def test_encode_job_with_compile_phase() -> None:
    job = SandboxJob(
        job_id="j2",
        image="go-runner",
        files=(SandboxFile("main.go", b"package main"),),
        run_argv=("./main",),
        timeout_s=1,
        compile_argv=("go", "build", "-o", "main", "main.go"),
        compile_timeout_s=4,
    )
    header = decode_header(encode_job(job, TOKEN))
    assert header["compile"] == {
        "argv": ["go", "build", "-o", "main", "main.go"],
        "timeout_s": 4,
        "output_max_bytes": 64 << 10,
        "kill_on_output_limit": False,
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
    output = LauncherOutput(1024, TOKEN)
    output.feed(STREAM)
    assert output.stdout.text() == "hello wörld\n"
    assert output.stderr.text() == "oops\n"
    assert output.run_report == PhaseReport(3, None, 40, False, False, False)
    assert output.finished
    assert not output.malformed


def test_split_at_every_byte_boundary_gives_the_same_result() -> None:
    whole = LauncherOutput(1024, TOKEN)
    whole.feed(STREAM)
    for cut in range(len(STREAM) + 1):
        output = LauncherOutput(1024, TOKEN)
        output.feed(STREAM[:cut])
        output.feed(STREAM[cut:])
        assert summary(output) == summary(whole), f"cut at {cut}"


def test_byte_by_byte_gives_the_same_result() -> None:
    whole = LauncherOutput(1024, TOKEN)
    whole.feed(STREAM)
    output = LauncherOutput(1024, TOKEN)
    for index in range(len(STREAM)):
        output.feed(STREAM[index : index + 1])
    assert summary(output) == summary(whole)


def test_not_finished_before_the_report() -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(STREAM[:-1])
    assert not output.finished
    output.feed(STREAM[-1:])
    assert output.finished


def test_output_is_capped_and_marked_truncated() -> None:
    output = LauncherOutput(5, TOKEN)
    output.feed(
        frame(RUN_STDOUT, b"hel") + frame(RUN_STDOUT, b"lo world") + frame(RUN_STDERR, b"ab")
    )
    assert output.stdout.text() == "hello"
    assert output.stdout.truncated
    assert output.stderr.text() == "ab"
    assert not output.stderr.truncated


def test_output_exactly_at_the_cap_is_not_truncated() -> None:
    output = LauncherOutput(5, TOKEN)
    output.feed(frame(RUN_STDOUT, b"12") + frame(RUN_STDOUT, b"345") + frame(RUN_STDOUT, b""))
    assert output.stdout.text() == "12345"
    assert not output.stdout.truncated


def test_oversize_frame_is_malformed_and_stops_parsing() -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(TOKEN + FRAME.pack(RUN_STDOUT, MAX_FRAME_BYTES + 1))  # the header alone is enough
    assert output.malformed
    output.feed(frame(RUN_STDOUT, b"after") + report())
    assert output.stdout.text() == ""
    assert output.run_report is None
    assert not output.finished


def test_frame_of_exactly_the_maximum_is_accepted() -> None:
    output = LauncherOutput(16, TOKEN)
    output.feed(frame(RUN_STDOUT, b"x" * MAX_FRAME_BYTES))
    assert not output.malformed
    assert output.stdout.text() == "x" * 16
    assert output.stdout.truncated


@pytest.mark.parametrize("kind", [b"Z", b"\x00", b"5"])
def test_unknown_frame_kind_is_malformed(kind: bytes) -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(kind, b"?"))
    assert output.malformed
    output.feed(report())
    assert output.run_report is None


def test_second_run_report_is_malformed() -> None:
    output = LauncherOutput(1024, TOKEN)
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
    ],
)
def test_garbage_report_is_none(payload: bytes) -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(RUN_DONE, payload))
    assert output.run_report is None
    assert not output.finished


def test_report_fields_are_normalised() -> None:
    parsed = PhaseReport.parse(json.dumps({**REPORT, "time_ms": -5, "signal": 9}).encode())
    assert parsed == PhaseReport(0, 9, 0, False, False, False)


def test_non_utf8_output_decodes_with_replacement() -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(RUN_STDOUT, b"ok \xff\xfe end") + frame(RUN_STDERR, "é".encode()[:1]))
    assert output.stdout.text() == "ok \ufffd\ufffd end"
    assert output.stderr.text() == "\ufffd"


def test_launcher_error_finishes() -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(LAUNCHER_ERROR, b"refusing file name '../x' \xff"))
    assert output.launcher_error == "refusing file name '../x' \ufffd"
    assert output.finished


def test_failed_compile_finishes_without_a_run_report() -> None:
    output = LauncherOutput(1024, TOKEN)
    compile_report = json.dumps({**REPORT, "exit_code": 2}).encode()
    output.feed(frame(COMPILE_STDERR, b"syntax error") + frame(COMPILE_DONE, compile_report))
    assert output.compile_stderr.text() == "syntax error"
    assert output.compile_report is not None and output.compile_report.exit_code == 2
    assert output.finished


def test_successful_compile_is_not_finished() -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(COMPILE_DONE, json.dumps(REPORT).encode()))
    assert not output.finished


# --- known bugs (see the report) --------------------------------------------------------------


def test_malformed_frame_stops_parsing_within_the_same_chunk() -> None:
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(b"Z", b"") + frame(RUN_STDOUT, b"after") + report())
    assert output.malformed
    assert output.stdout.text() == ""
    assert not output.finished


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "1e400"])
def test_infinite_numbers_in_a_report_are_garbage(number: str) -> None:
    payload = json.dumps(REPORT).replace('"exit_code": 0', f'"exit_code": {number}')
    output = LauncherOutput(1024, TOKEN)
    output.feed(frame(RUN_DONE, payload.encode()))
    assert output.run_report is None


def test_a_frame_without_the_jobs_token_is_rejected() -> None:
    output = LauncherOutput(1024, TOKEN)
    forged = frame(RUN_STDOUT, b"forged", token=bytes(16)) + report()
    output.feed(forged)
    assert output.malformed
    assert output.stdout.text() == ""
    assert not output.finished


def test_encode_job_sends_the_token() -> None:
    job = SandboxJob(job_id="j", image="img", files=(), run_argv=("true",), timeout_s=1.0)
    assert decode_header(encode_job(job, TOKEN))["token"] == TOKEN.hex()
