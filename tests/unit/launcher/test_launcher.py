"""The sandbox launcher run on the host as an ordinary subprocess, with Python as the program.

Safety: the launcher calls kill(-1) only when it is PID 1 (in a sandbox). The guard is checked
before any test here starts it; it must never be started as PID 1 on the host.
"""

import ast
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from runakode.sandboxes import CompileStep, RunLimits, SandboxFile, SandboxJob, SandboxSpec
from runakode.sandboxes.base import CloseStdin, Signal, TimeLimit, WriteStdin
from runakode.sandboxes.launcher_protocol import (
    LauncherOutput,
    PhaseReport,
    encode_control,
    encode_job,
)

TOKEN = bytes(range(16))

SPAWN_C = str(Path(__file__).resolve().parents[3] / "sandbox/images/base/spawn.c")
LAUNCHER = Path(__file__).resolve().parents[3] / "sandbox" / "launcher" / "launcher.py"


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


def make_job(
    files: tuple[SandboxFile, ...],
    run_argv: tuple[str, ...],
    *,
    stdin: bytes = b"",
    compile_argv: tuple[str, ...] | None = None,
    **limits: Any,
) -> SandboxJob:
    limits.setdefault("wall_time_s", 5.0)
    limits.setdefault("output_max_bytes", 1 << 20)
    return SandboxJob(
        job_id="unit",
        spec=SandboxSpec("unused", 1 << 30, 1.0),
        files=files,
        run_argv=run_argv,
        limits=RunLimits(**limits),
        stdin=stdin,
        merge_output=False,
        compile=CompileStep(compile_argv, 5.0, 64 << 10) if compile_argv else None,
    )


def python_job(
    source: str,
    *,
    files: tuple[SandboxFile, ...] = (),
    **options: Any,
) -> SandboxJob:
    main = SandboxFile("main.py", textwrap.dedent(source).encode())
    return make_job((main, *files), (sys.executable, "main.py"), **options)


@pytest.fixture(scope="module", autouse=True)
def spawn_helper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandboxes' spawn helper, built here as the base image builds it."""
    helper = tmp_path_factory.mktemp("spawn") / "runakode-spawn"
    subprocess.run(
        ["gcc", "-static", "-O2", "-s", "-Wall", "-Wextra", "-Werror", "-o", str(helper), SPAWN_C],
        check=True,
    )
    LAUNCHER_ENV.update(os.environ, RUNAKODE_SPAWN=str(helper))
    return helper


# The launcher's environment: where its spawn helper is (set by the fixture above).
LAUNCHER_ENV: dict[str, str] = {}


def run_launcher(cwd: Path, stdin: bytes) -> tuple[int, LauncherOutput]:
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER)],
        input=stdin,
        cwd=cwd,
        env=LAUNCHER_ENV,
        capture_output=True,
        timeout=20,
        check=False,
    )
    # A roomy parser, so that the launcher's own cap is what the tests observe.
    output = LauncherOutput(TOKEN, 8 << 20, 8 << 20)
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
    assert (report.exit_code, report.signal, report.time_limit) == (0, None, None)
    assert not report.memory_exceeded
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
    _, output, report = run_job(tmp_path, python_job(source, wall_time_s=0.5))
    elapsed = time.monotonic() - started

    assert report.time_limit == TimeLimit.WALL
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
    assert report.time_limit is None


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
    job = make_job((), ("./no-such-program",), wall_time_s=2)
    _, output, report = run_job(tmp_path, job)
    assert (report.exit_code, report.signal, report.time_limit) == (127, None, None)
    assert "cannot start ./no-such-program: No such file or directory" in output.stderr.text()


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
    job = make_job((SandboxFile("../escape.py", b"x"),), (sys.executable, "main.py"))
    returncode, output = run_launcher(tmp_path, encode_job(job, TOKEN))
    assert returncode == 3
    assert output.launcher_error is not None and "escape" in output.launcher_error


# --- what the program used, and the limits the launcher enforces ------------------------------
# Bounds that must hold on a loaded machine, never exact figures. NPROC is not enforced for root,
# so here only its value is checked.

BUSY = textwrap.dedent("""
    import time
    started = time.process_time()
    while time.process_time() - started < {seconds}:
        pass
    print("done")
""")
MIB_KB = 1024


@pytest.mark.parametrize("sampled", [False, True], ids=["rusage", "sampled"])
def test_cpu_time_of_a_busy_loop(tmp_path: Path, sampled: bool) -> None:
    limits = {"cpu_time_s": 5.0, "cpu_extra_s": 1.0} if sampled else {}
    _, output, report = run_job(tmp_path, python_job(BUSY.format(seconds=0.3), **limits))
    assert output.stdout.text() == "done\n"
    assert report.cpu_time_ms is not None and report.memory_kb is not None
    # The interpreter's start comes on top; the launcher's own work (sampling) does not.
    assert 300 <= report.cpu_time_ms <= report.time_ms + 50
    assert 1 * MIB_KB < report.memory_kb < 100 * MIB_KB
    assert report.time_limit is None


def test_a_small_program_is_not_charged_the_launchers_own_memory(tmp_path: Path) -> None:
    # A forked child inherits its parent's peak memory through exec: the launcher (a Python
    # process of 10+ MiB) must not show up as the memory of a program that uses far less.
    job = make_job((SandboxFile("main.sh", b"exit 0\n"),), ("/bin/sh", "main.sh"))
    _, _, report = run_job(tmp_path, job)
    assert report.memory_kb is not None
    assert 0 < report.memory_kb < 4 * MIB_KB


def test_a_program_that_kills_its_helper_is_still_followed_to_its_end(tmp_path: Path) -> None:
    source = """
        import os, signal, time
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(0.3)
        print("still running", flush=True)
    """
    started = time.monotonic()
    _, output, report = run_job(tmp_path, python_job(source, wall_time_s=5))
    # Off PID 1 (here) the host's init reaps the program, so its own exit status is unknown;
    # in a sandbox the launcher, as PID 1, reaps it (tests/integration: test_kill_minus_one).
    assert output.stdout.text() == "still running\n"
    assert report.time_limit is None and time.monotonic() - started < 4


def test_a_missing_spawn_helper_is_a_clear_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(LAUNCHER_ENV, "RUNAKODE_SPAWN", "/nonexistent")
    _, output, report = run_job(tmp_path, python_job("print(1)"))
    assert report.exit_code == 127
    assert "cannot start /nonexistent" in output.stderr.text()


def test_cpu_time_of_a_child_it_waited_for_is_counted(tmp_path: Path) -> None:
    source = f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {BUSY.format(seconds=0.3)!r}], check=True)
    """
    _, output, report = run_job(tmp_path, python_job(source))
    assert output.stdout.text() == "done\n"
    assert report.cpu_time_ms is not None and report.cpu_time_ms >= 300


def test_a_sleeping_program_uses_little_cpu(tmp_path: Path) -> None:
    job = python_job("import time; time.sleep(0.5)", cpu_time_s=0.2, memory_bytes=512 << 20)
    _, _, report = run_job(tmp_path, job)
    assert report.cpu_time_ms is not None and report.cpu_time_ms < 200
    assert report.time_limit is None
    assert report.time_ms >= 500


@pytest.mark.parametrize("sampled", [False, True], ids=["rusage", "sampled"])
def test_memory_of_a_100_mib_allocation(tmp_path: Path, sampled: bool) -> None:
    limits = {"memory_bytes": 1 << 30} if sampled else {}
    source = """
        data = b"x" * (100 << 20)
        print(len(data))
    """
    _, output, report = run_job(tmp_path, python_job(source, **limits))
    assert output.stdout.text() == f"{100 << 20}\n"
    assert report.memory_kb is not None
    assert 100 * MIB_KB <= report.memory_kb < 160 * MIB_KB
    assert not report.memory_exceeded


def test_cpu_limit_kills_a_busy_loop(tmp_path: Path) -> None:
    job = python_job("while True: pass", cpu_time_s=0.3, cpu_extra_s=0.2, wall_time_s=10.0)
    _, _, report = run_job(tmp_path, job)
    assert report.time_limit == TimeLimit.CPU
    assert report.timed_out
    assert (report.exit_code, report.signal) == (137, 9)
    # Killed once past 0.5 s, well before the kernel's RLIMIT_CPU backstop at 2 s.
    assert report.cpu_time_ms is not None and 500 < report.cpu_time_ms < 2000
    assert report.time_ms < 5000


def test_over_the_cpu_limit_but_under_the_kill_point_is_a_time_out(tmp_path: Path) -> None:
    job = python_job(BUSY.format(seconds=0.4), cpu_time_s=0.1, cpu_extra_s=3.0)
    _, output, report = run_job(tmp_path, job)
    assert output.stdout.text() == "done\n"
    assert (report.exit_code, report.signal) == (0, None)
    assert report.time_limit == TimeLimit.CPU
    assert report.cpu_time_ms is not None and report.cpu_time_ms >= 400


def test_cpu_time_over_the_limit_is_the_time_out_even_when_the_wall_clock_ran_out(
    tmp_path: Path,
) -> None:
    job = python_job("while True: pass", cpu_time_s=0.1, cpu_extra_s=10.0, wall_time_s=0.5)
    _, _, report = run_job(tmp_path, job)
    assert report.time_limit == TimeLimit.CPU
    assert (report.exit_code, report.signal) == (137, 9)


def test_sleeping_past_the_wall_limit_is_a_wall_time_out(tmp_path: Path) -> None:
    job = python_job("import time; time.sleep(5)", cpu_time_s=1.0, wall_time_s=0.5)
    _, _, report = run_job(tmp_path, job)
    assert report.time_limit == TimeLimit.WALL
    assert (report.exit_code, report.signal) == (137, 9)


GROWING = """
    import time
    chunks = []
    for _ in range(40):
        chunks.append(b"x" * (10 << 20))
        time.sleep(0.02)
    print("survived")
"""


def test_memory_limit_kills_an_allocation(tmp_path: Path) -> None:
    job = python_job(GROWING, memory_bytes=64 << 20)
    _, output, report = run_job(tmp_path, job)
    assert report.memory_exceeded
    assert (report.exit_code, report.signal) == (137, 9)
    assert report.time_limit is None
    assert output.stdout.text() == ""
    assert report.memory_kb is not None and 64 * MIB_KB < report.memory_kb < 400 * MIB_KB


def test_memory_limit_counts_the_processes_together(tmp_path: Path) -> None:
    # 40 MiB each, 80 together: over a 64 MiB limit only as a group.
    source = """
        import os, time
        data = b"x" * (40 << 20)
        if os.fork() == 0:
            data = b"y" * (40 << 20)
        time.sleep(3)
        print("survived")
    """
    _, output, report = run_job(tmp_path, python_job(source, memory_bytes=64 << 20))
    assert report.memory_exceeded
    assert output.stdout.text() == ""
    assert report.time_ms < 2500


def test_per_process_memory_is_an_address_space_limit(tmp_path: Path) -> None:
    source = """
        try:
            data = bytearray(300 << 20)
        except MemoryError:
            print("MemoryError")
    """
    job = python_job(source, memory_bytes=200 << 20, per_process_memory=True)
    _, output, report = run_job(tmp_path, job)
    assert output.stdout.text() == "MemoryError\n"
    assert not report.memory_exceeded


def test_rlimits_are_set_before_the_program_starts(tmp_path: Path) -> None:
    source = """
        import resource
        for name in ("NPROC", "STACK", "CPU"):
            print(name, *resource.getrlimit(getattr(resource, "RLIMIT_" + name)))
    """
    job = python_job(source, max_tasks=7, stack_bytes=16 << 20, cpu_time_s=1.5, cpu_extra_s=0.2)
    _, output, _ = run_job(tmp_path, job)
    assert output.stdout.text().splitlines() == [
        "NPROC 9 9",  # the launcher and the spawn helper count as two of the user's tasks
        f"STACK {16 << 20} {16 << 20}",
        "CPU 3 3",
    ]


def test_file_size_limit(tmp_path: Path) -> None:
    source = """
        import os
        try:
            with open("big", "wb") as f:
                f.write(b"z" * 5000)
        except OSError as exc:
            print(exc.strerror)
        print(os.path.getsize("big"))
    """
    _, output, _ = run_job(tmp_path, python_job(source, file_size_bytes=1000))
    assert output.stdout.text() == "File too large\n1000\n"


def test_no_limits_leave_the_launchers_own(tmp_path: Path) -> None:
    source = """
        import resource
        print(resource.getrlimit(resource.RLIMIT_STACK) == tuple({stack}))
    """
    import resource

    stack = resource.getrlimit(resource.RLIMIT_STACK)
    _, output, report = run_job(tmp_path, python_job(source.format(stack=list(stack))))
    assert output.stdout.text() == "True\n"
    assert report.time_limit is None and not report.memory_exceeded


def test_compile_phase_reports_its_usage(tmp_path: Path) -> None:
    compile_argv = (sys.executable, "-c", "x = b'c' * (50 << 20)")
    _, output, _ = run_job(tmp_path, python_job("print(1)", compile_argv=compile_argv))
    report = output.compile_report
    assert report is not None
    assert report.cpu_time_ms is not None and report.cpu_time_ms >= 0
    assert report.memory_kb is not None and report.memory_kb >= 50 * MIB_KB


def test_a_program_that_closes_its_output_still_runs_to_the_end(tmp_path: Path) -> None:
    source = """
        import os, time
        print("bye", flush=True)
        os.close(1)
        os.close(2)
        time.sleep(0.3)
        open("finished", "w").close()
        raise SystemExit(3)
    """
    _, output, report = run_job(tmp_path, python_job(source))
    assert output.stdout.text() == "bye\n"
    assert (report.exit_code, report.signal, report.time_limit) == (3, None, None)
    assert (tmp_path / "finished").exists()


def test_an_unknown_rlimit_is_a_launcher_error(tmp_path: Path) -> None:
    encoded = encode_job(python_job('print("must not run")'), TOKEN)
    header = json.loads(encoded[4:])
    header["run"]["rlimits"] = {"NOFILE": 10}
    body = json.dumps(header).encode()
    returncode, output = run_launcher(tmp_path, len(body).to_bytes(4, "big") + body)
    assert returncode == 3
    assert output.launcher_error == "unknown rlimit 'NOFILE'"
    assert not output.accepted
    assert not (tmp_path / "main.py").exists()


# --- live sessions: stdin from the host while the program runs, signals ----------------------


class LiveLauncher:
    """The launcher with a live job: the host's frames written while the program runs."""

    def __init__(self, cwd: Path, job: SandboxJob) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(LAUNCHER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            env=LAUNCHER_ENV,
        )
        self.output = LauncherOutput(TOKEN, 8 << 20, 8 << 20)
        self.write(encode_job(job, TOKEN))

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def control(self, control: WriteStdin | CloseStdin | Signal) -> None:
        self.write(encode_control(control))

    def read_until(self, text: str, timeout_s: float = 10.0) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while text not in self.output.stdout.text():
            assert time.monotonic() < deadline, self.output.stdout.text()
            chunk = os.read(self.process.stdout.fileno(), 65536)
            assert chunk, "the launcher ended first"
            self.output.feed(chunk)

    def finish(self, timeout_s: float = 20.0) -> PhaseReport:
        """Read to the report; the host's end stays open meanwhile (closing it means gone)."""
        assert self.process.stdout is not None and self.process.stdin is not None
        deadline = time.monotonic() + timeout_s
        while not self.output.finished:
            assert time.monotonic() < deadline, "no report in time"
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                break
            self.output.feed(chunk)
        self.process.stdin.close()
        self.process.wait(timeout=5)
        assert self.output.run_report is not None, self.output.launcher_error
        return self.output.run_report


def live_job(source: str, **options: Any) -> SandboxJob:
    return dataclasses.replace(python_job(source, **options), interactive=True)


def test_live_stdin_arrives_while_the_program_runs(tmp_path: Path) -> None:
    source = """
        name = input("name? ")
        print("hello", name)
        print("rest", repr(__import__("sys").stdin.read()))
    """
    launcher = LiveLauncher(tmp_path, live_job(source, stdin=b"first "))
    launcher.read_until("name? ")
    launcher.control(WriteStdin(b"bob\nmore"))
    launcher.read_until("hello")
    launcher.control(WriteStdin(b" and more"))
    launcher.control(CloseStdin())
    report = launcher.finish()
    assert report.exit_code == 0
    assert launcher.output.stdout.text() == "name? hello first bob\nrest 'more and more'\n"


def test_live_signal_reaches_the_program_and_its_helper_reports(tmp_path: Path) -> None:
    source = """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: (print("terminated"), sys.exit(4)))
        print("ready", flush=True)
        time.sleep(10)
    """
    launcher = LiveLauncher(tmp_path, live_job(source))
    launcher.read_until("ready")
    launcher.control(Signal(15))
    report = launcher.finish()
    # The helper ignored the signal, so it lived to report the program's own exit.
    assert (report.exit_code, report.signal) == (4, None)
    assert report.cpu_time_ms is not None
    assert launcher.output.stdout.text() == "ready\nterminated\n"


def test_live_default_signal_kills_the_program(tmp_path: Path) -> None:
    launcher = LiveLauncher(
        tmp_path, live_job("import time\nprint('ready', flush=True)\ntime.sleep(10)")
    )
    launcher.read_until("ready")
    launcher.control(Signal(2))
    report = launcher.finish()
    assert report.signal == 2


def test_live_host_gone_ends_the_program(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    source = f"""
        import time
        print("ready", flush=True)
        for _ in range(40):
            time.sleep(0.05)
        open({str(marker)!r}, "w").close()
    """
    launcher = LiveLauncher(tmp_path, live_job(source))
    launcher.read_until("ready")
    assert launcher.process.stdin is not None
    launcher.process.stdin.close()  # the host went away: the launcher's stdin closes
    assert launcher.process.wait(timeout=5) == 0
    time.sleep(2.5)
    assert not marker.exists(), "the program outlived its host"
    assert launcher.output.run_report is None


def test_live_frames_that_are_not_the_hosts_are_not_trusted(tmp_path: Path) -> None:
    launcher = LiveLauncher(
        tmp_path, live_job("import time\nprint('ready', flush=True)\ntime.sleep(10)")
    )
    launcher.read_until("ready")
    launcher.write(b"\xff" * 64)  # a frame header claiming a huge payload
    assert launcher.process.wait(timeout=5) == 0


def collecting(job: SandboxJob, patterns: tuple[str, ...], max_bytes: int) -> SandboxJob:
    assert job.compile is not None
    step = dataclasses.replace(job.compile, artifacts=patterns)
    return dataclasses.replace(job, compile=step, artifacts_max_bytes=max_bytes)


def run_collecting(tmp_path: Path, job: SandboxJob) -> LauncherOutput:
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER)],
        input=encode_job(job, TOKEN),
        cwd=tmp_path,
        env=LAUNCHER_ENV,
        capture_output=True,
        timeout=20,
        check=True,
    )
    output = LauncherOutput.for_job(job, TOKEN)
    output.feed(completed.stdout)
    assert not output.malformed
    return output


# The "compiler" leaves a binary, a class in a package, a file the patterns do not name, and a
# symbolic link named like a class, which must never be followed.
BUILD = """
import os
os.makedirs("pkg")
open("main", "wb").write(b"v1")
os.chmod("main", 0o755)
open("pkg/A.class", "wb").write(b"cls")
open("notes.txt", "w").write("not an artifact")
os.symlink("/etc/hostname", "Evil.class")
"""


def test_compile_artifacts_are_collected_before_the_program_runs(tmp_path: Path) -> None:
    # The program overwrites the binary: what was collected is what the compile left.
    source = 'open("main", "wb").write(b"poisoned"); print("ran")'
    job = python_job(source, compile_argv=(sys.executable, "-c", BUILD))
    output = run_collecting(tmp_path, collecting(job, ("main", "*.class"), 1 << 20))
    assert output.artifacts.files == (
        SandboxFile("main", b"v1", executable=True),
        SandboxFile("pkg/A.class", b"cls"),
    )
    assert output.stdout.text() == "ran\n"
    assert (tmp_path / "main").read_bytes() == b"poisoned"


def test_artifacts_over_their_bound_are_not_collected_and_the_program_still_runs(
    tmp_path: Path,
) -> None:
    job = python_job('print("ran")', compile_argv=(sys.executable, "-c", BUILD))
    output = run_collecting(tmp_path, collecting(job, ("main", "*.class"), 4))
    assert output.artifacts.files is None
    assert output.stdout.text() == "ran\n"


def test_nothing_is_collected_unless_asked(tmp_path: Path) -> None:
    job = python_job('print("ran")', compile_argv=(sys.executable, "-c", BUILD))
    output = run_collecting(tmp_path, collecting(job, ("main",), 0))
    assert output.artifacts.files is None
    assert output.stdout.text() == "ran\n"
