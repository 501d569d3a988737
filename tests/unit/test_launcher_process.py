"""The sandbox launcher run on the host as an ordinary subprocess, with Python as the program.

Safety: the launcher calls kill(-1) only when it is PID 1 (in a sandbox). The guard is checked
before any test here starts it; it must never be started as PID 1 on the host.
"""

import ast
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runakode.sandboxes import SandboxFile, SandboxJob
from runakode.sandboxes.launcher_protocol import LauncherOutput, PhaseReport, encode_job

TOKEN = bytes(range(16))

LAUNCHER = Path(__file__).resolve().parents[2] / "sandbox" / "launcher" / "launcher.py"


def pid1_guard_is_present() -> bool:
    tree = ast.parse(LAUNCHER.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "kill_everything_else":
            first = node.body[0]
            return (
                isinstance(first, ast.If)
                and ast.unparse(first.test) == "os.getpid() != 1"
                and isinstance(first.body[0], ast.Return)
            )
    return False


@pytest.fixture(scope="module", autouse=True)
def _safe_to_run() -> None:
    if not pid1_guard_is_present():
        pytest.fail("launcher.py lost its `if os.getpid() != 1: return` guard: refusing to run it")
    assert os.getpid() != 1


def python_job(
    source: str,
    *,
    timeout_s: float = 5.0,
    stdin: bytes = b"",
    output_max_bytes: int = 1 << 20,
    files: tuple[SandboxFile, ...] = (),
    compile_argv: tuple[str, ...] | None = None,
) -> SandboxJob:
    return SandboxJob(
        job_id="unit",
        image="unused",
        files=(SandboxFile("main.py", textwrap.dedent(source).encode()), *files),
        run_argv=(sys.executable, "main.py"),
        timeout_s=timeout_s,
        stdin=stdin,
        output_max_bytes=output_max_bytes,
        compile_argv=compile_argv,
        compile_timeout_s=5.0 if compile_argv else 0.0,
    )


def run_launcher(cwd: Path, stdin: bytes) -> tuple[int, LauncherOutput]:
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER)],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        timeout=20,
        check=False,
    )
    # A roomy parser, so that the launcher's own cap is what the tests observe.
    output = LauncherOutput(8 << 20, TOKEN)
    output.feed(completed.stdout)
    return completed.returncode, output


def run_job(tmp_path: Path, job: SandboxJob) -> tuple[int, LauncherOutput, PhaseReport]:
    returncode, output = run_launcher(tmp_path, encode_job(job, TOKEN))
    assert not output.malformed
    assert output.launcher_error is None
    assert output.run_report is not None
    return returncode, output, output.run_report


def test_hello_world(tmp_path: Path) -> None:
    returncode, output, report = run_job(tmp_path, python_job('print("hello, world")'))
    assert returncode == 0
    assert output.stdout.text() == "hello, world\n"
    assert output.stderr.text() == ""
    assert (report.exit_code, report.signal, report.timed_out) == (0, None, False)
    assert not report.truncated and not report.output_limit
    assert (tmp_path / "main.py").exists()


def test_nonzero_exit_and_stderr(tmp_path: Path) -> None:
    source = """
        import sys
        print("bad input", file=sys.stderr)
        sys.exit(7)
    """
    returncode, output, report = run_job(tmp_path, python_job(source))
    assert returncode == 0  # the launcher itself succeeded
    assert report.exit_code == 7
    assert output.stderr.text() == "bad input\n"


def test_uncaught_exception(tmp_path: Path) -> None:
    _, output, report = run_job(tmp_path, python_job("raise ValueError('nope')"))
    assert report.exit_code == 1
    assert "ValueError: nope" in output.stderr.text()


def test_stdin_is_fed_to_the_program(tmp_path: Path) -> None:
    source = """
        import sys
        data = sys.stdin.read()
        print(data.upper(), end="")
    """
    data = b"line one\nline two\n" * 10_000  # more than a pipe buffer
    _, output, report = run_job(tmp_path, python_job(source, stdin=data))
    assert report.exit_code == 0
    assert output.stdout.text() == data.decode().upper()


def test_empty_stdin_is_closed(tmp_path: Path) -> None:
    source = """
        import sys
        print(repr(sys.stdin.read()))
    """
    _, output, _ = run_job(tmp_path, python_job(source))
    assert output.stdout.text() == "''\n"


def test_timeout_kills_the_program(tmp_path: Path) -> None:
    source = """
        import time
        print("started", flush=True)
        time.sleep(5)
        print("never")
    """
    started = time.monotonic()
    _, output, report = run_job(tmp_path, python_job(source, timeout_s=0.5))
    elapsed = time.monotonic() - started

    assert report.timed_out
    assert (report.exit_code, report.signal) == (137, 9)
    assert output.stdout.text() == "started\n"
    assert 0.5 <= elapsed < 4
    assert report.time_ms >= 500


def test_output_flood_is_cut(tmp_path: Path) -> None:
    source = """
        import sys
        while True:
            sys.stdout.write("x" * 65536)
    """
    _, output, report = run_job(tmp_path, python_job(source, output_max_bytes=1000))
    assert report.output_limit
    assert report.truncated
    assert output.stdout.text() == "x" * 1000
    assert not report.timed_out


def test_output_at_the_cap_is_not_truncated(tmp_path: Path) -> None:
    source = 'import sys; sys.stdout.write("y" * 1000)'
    _, output, report = run_job(tmp_path, python_job(source, output_max_bytes=1000))
    assert output.stdout.text() == "y" * 1000
    assert not report.truncated and not report.output_limit


def test_files_in_subdirectories_and_executable_bits(tmp_path: Path) -> None:
    source = """
        import os
        print(open("data/input.txt").read(), end="")
        print(os.access("run.sh", os.X_OK), os.access("data/input.txt", os.X_OK))
    """
    files = (
        SandboxFile("data/input.txt", b"from a file\n"),
        SandboxFile("run.sh", b"#!/bin/sh\n", executable=True),
    )
    _, output, _ = run_job(tmp_path, python_job(source, files=files))
    assert output.stdout.text() == "from a file\nTrue False\n"


def test_compile_phase_runs_first(tmp_path: Path) -> None:
    compile_argv = (sys.executable, "-c", "open('built', 'w').write('ok'); print('compiled')")
    job = python_job('print(open("built").read())', compile_argv=compile_argv)
    _, output, report = run_job(tmp_path, job)
    assert output.compile_report is not None and output.compile_report.exit_code == 0
    assert output.compile_stdout.text() == "compiled\n"
    assert output.stdout.text() == "ok\n"
    assert report.exit_code == 0


def test_failed_compile_skips_the_run(tmp_path: Path) -> None:
    compile_argv = (sys.executable, "-c", "import sys; sys.exit('syntax error')")
    job = python_job('print("must not run")', compile_argv=compile_argv)
    returncode, output = run_launcher(tmp_path, encode_job(job, TOKEN))
    assert returncode == 0
    assert output.compile_report is not None and output.compile_report.exit_code == 1
    assert output.compile_stderr.text() == "syntax error\n"
    assert output.run_report is None
    assert output.finished
    assert output.stdout.text() == ""


def test_missing_program_is_exit_127(tmp_path: Path) -> None:
    job = SandboxJob(
        job_id="unit", image="unused", files=(), run_argv=("./no-such-program",), timeout_s=2
    )
    _, output, report = run_job(tmp_path, job)
    assert report.exit_code == 127
    assert "cannot start ./no-such-program" in output.stderr.text()


@pytest.mark.parametrize("name", ["../escape.py", "a/../../escape.py", "/tmp/abs.py", "", "a//b"])
def test_unsafe_file_names_are_refused(tmp_path: Path, name: str) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    job = python_job('print("must not run")', files=(SandboxFile(name, b"evil"),))

    returncode, output = run_launcher(workdir, encode_job(job, TOKEN))

    assert returncode == 3
    assert output.launcher_error is not None and "refusing file name" in output.launcher_error
    assert output.run_report is None
    assert not (tmp_path / "escape.py").exists()
    assert output.stdout.text() == ""


# Before the header is read there is no token to sign with: the host cannot tell such a frame
# from a forgery, so it sees a sandbox that never took its job (and retries elsewhere).
def test_truncated_header_is_never_taken_for_a_result(tmp_path: Path) -> None:
    returncode, output = run_launcher(tmp_path, encode_job(python_job("print(1)"), TOKEN)[:-10])
    assert returncode == 3
    assert not output.accepted and not output.finished and output.malformed


def test_garbage_header_is_never_taken_for_a_result(tmp_path: Path) -> None:
    body = b"{not json"
    returncode, output = run_launcher(tmp_path, len(body).to_bytes(4, "big") + body)
    assert returncode == 3
    assert not output.accepted and not output.finished and output.malformed


def test_launcher_error_after_the_header_is_signed(tmp_path: Path) -> None:
    job = SandboxJob(
        job_id="j",
        image="img",
        files=(SandboxFile("../escape.py", b"x"),),
        run_argv=(sys.executable, "main.py"),
        timeout_s=1.0,
    )
    returncode, output = run_launcher(tmp_path, encode_job(job, TOKEN))
    assert returncode == 3
    assert output.launcher_error is not None and "escape" in output.launcher_error
