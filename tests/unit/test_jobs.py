"""jobs.native_sandbox_job: files, args, stdin, per-job limits and compile settings."""

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from runakode.config import Settings
from runakode.errors import PoisonJob
from runakode.jobs import native_sandbox_job
from runakode.languages import LANGUAGES
from runakode.models import Job, JobFile
from runakode.sandboxes import RunLimits, SandboxFile, SandboxJob, SandboxSpec
from runakode.sandboxes.base import Prestart

LANGS = ["python", "go", "java", "javascript", "cpp"]
JAVA_SOLUTION = "public class Solution {\n  public static void main(String[] a) {}\n}\n"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        jobTimeout="3s",
        outputMaxBytes=4096,
        jobMemory="256m",
        jobCpu="0.5",
        compileTimeout="20s",
        compileOutputMaxBytes=1000,
        supportedLanguages=LANGS,
        sandboxImages={name: f"{name}-img" for name in LANGS},
    )


def job(language: str = "python", source_code: str = "print(1)", **fields: Any) -> Job:
    return Job(id="job-1", language=language, source_code=source_code, **fields)


def sandbox_job_of(settings: Settings, job: Job) -> SandboxJob:
    return native_sandbox_job(settings, job, LANGUAGES[job.language])


# --- files, args, stdin -----------------------------------------------------------------------


def test_files_are_placed_beside_the_main_file(settings: Settings) -> None:
    files = [
        JobFile(name="data.txt", content="42\n"),
        JobFile(name="lib/util.py", content="Ü = 1\n"),
        JobFile(name="empty", content=""),
    ]
    sandbox_job = sandbox_job_of(settings, job(source_code="print('é')", files=files))
    assert sandbox_job.files == (
        SandboxFile("main.py", "print('é')".encode()),
        SandboxFile("data.txt", b"42\n"),
        SandboxFile("lib/util.py", "Ü = 1\n".encode()),
        SandboxFile("empty", b""),
    )
    assert not any(file.executable for file in sandbox_job.files)


@pytest.mark.parametrize(
    ("language", "source", "argv"),
    [
        ("python", "print(1)", ("python3", "main.py")),
        ("javascript", "console.log(1)", ("node", "main.js")),
        ("cpp", "int main(){}", ("./main",)),
        ("go", "package main", ("./main",)),
    ],
)
def test_args_are_appended_to_the_run_argv(
    settings: Settings, language: str, source: str, argv: tuple[str, ...]
) -> None:
    args = ["--loud", "two words", "", "{file}"]
    sandbox_job = sandbox_job_of(settings, job(language, source, args=args))
    assert sandbox_job.run_argv == (*argv, *args)


def test_no_args_no_stdin(settings: Settings) -> None:
    sandbox_job = sandbox_job_of(settings, job())
    assert sandbox_job.run_argv == ("python3", "main.py")
    assert sandbox_job.stdin == b""
    assert sandbox_job.merge_output is False


def test_stdin_is_utf8(settings: Settings) -> None:
    assert sandbox_job_of(settings, job(stdin="wörld\n")).stdin == "wörld\n".encode()


@pytest.mark.parametrize("merge_output", [True, False])
def test_merge_output_is_passed_through(settings: Settings, merge_output: bool) -> None:
    assert sandbox_job_of(settings, job(merge_output=merge_output)).merge_output is merge_output


# --- limits -----------------------------------------------------------------------------------


def limits_of(sandbox_job: SandboxJob) -> tuple[float, int | None, int]:
    limits = sandbox_job.limits
    return (limits.wall_time_s, limits.memory_bytes, limits.output_max_bytes)


def test_configured_limits_when_the_job_sets_none(settings: Settings) -> None:
    sandbox_job = sandbox_job_of(settings, job())
    # No memory limit of its own: the sandbox's ceiling (jobMemory) is the limit.
    assert limits_of(sandbox_job) == (3.0, None, 4096)
    assert sandbox_job.spec.memory_bytes == 256 << 20
    assert sandbox_job.spec.cpus == 0.5


def test_every_job_of_a_language_boots_the_same_sandbox(settings: Settings) -> None:
    # So that the pool's sandboxes fit every job; a lower memory limit is enforced inside.
    lowered = sandbox_job_of(settings, job(memory_bytes=64 << 20, timeout_s=1.0))
    assert lowered.spec == sandbox_job_of(settings, job()).spec


def test_job_limits_lower_the_configured_ones(settings: Settings) -> None:
    lowered = job(timeout_s=1.5, memory_bytes=64 << 20, output_max_bytes=100)
    assert limits_of(sandbox_job_of(settings, lowered)) == (1.5, 64 << 20, 100)


def test_job_limits_equal_to_the_configured_ones(settings: Settings) -> None:
    same = job(timeout_s=3.0, memory_bytes=256 << 20, output_max_bytes=4096)
    assert limits_of(sandbox_job_of(settings, same)) == (3.0, 256 << 20, 4096)


def test_job_limits_never_raise_the_configured_ones(settings: Settings) -> None:
    # The API refuses these, but a job from elsewhere (an older API, the queue) must not win.
    raised = job(timeout_s=600.0, memory_bytes=8 << 30, output_max_bytes=1 << 30)
    assert limits_of(sandbox_job_of(settings, raised)) == (3.0, 256 << 20, 4096)


def test_each_limit_is_capped_on_its_own(settings: Settings) -> None:
    mixed = job(timeout_s=0.5, memory_bytes=1 << 40, output_max_bytes=None)
    assert limits_of(sandbox_job_of(settings, mixed)) == (0.5, 256 << 20, 4096)


# --- compile settings -------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "source"), [("cpp", "int main(){}"), ("go", "package main")])
def test_compile_timeout_and_output_come_from_compile_settings(
    settings: Settings, language: str, source: str
) -> None:
    sandbox_job = sandbox_job_of(settings, job(language, source, timeout_s=1.0))
    assert sandbox_job.compile is not None
    assert sandbox_job.compile.timeout_s == 20.0  # compileTimeout, not jobTimeout nor the job's
    assert sandbox_job.compile.output_max_bytes == 1000
    assert sandbox_job.compile.merge_output is False
    assert sandbox_job.limits.wall_time_s == 1.0
    assert sandbox_job.deadline_s == 21.0


def test_cpp_compiles_the_main_file(settings: Settings) -> None:
    sandbox_job = sandbox_job_of(settings, job("cpp", "int main(){}"))
    assert sandbox_job.spec.image == "cpp-img"
    assert sandbox_job.files[0].name == "main.cpp"
    assert sandbox_job.compile is not None and "main.cpp" in sandbox_job.compile.argv


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_interpreted_languages_have_no_compile_step(settings: Settings, language: str) -> None:
    sandbox_job = sandbox_job_of(settings, job(language, "x"))
    assert sandbox_job.compile is None
    assert sandbox_job.deadline_s == 3.0


# --- java -------------------------------------------------------------------------------------


def test_java_main_file_follows_the_public_class(settings: Settings) -> None:
    helper = JobFile(name="Helper.java", content="class Helper {}")
    sandbox_job = sandbox_job_of(settings, job("java", JAVA_SOLUTION, args=["x"], files=[helper]))
    assert sandbox_job.spec.image == "java-img"
    assert [file.name for file in sandbox_job.files] == ["Solution.java", "Helper.java"]
    assert sandbox_job.files[0].content == JAVA_SOLUTION.encode()
    assert sandbox_job.compile is not None
    assert sandbox_job.compile.argv[0] == "javac"
    # Every source of the program is compiled, the main one first.
    assert sandbox_job.compile.argv[-2:] == ("Solution.java", "Helper.java")
    assert sandbox_job.run_argv[0] == "java"
    assert sandbox_job.run_argv[-4:] == ("-cp", ".", "Solution", "x")
    assert sandbox_job.compile.timeout_s == 20.0


def test_java_main_file_from_the_class_holding_main(settings: Settings) -> None:
    source = "class Helper {}\nclass Program {\n  public static void main(String[] a) {}\n}\n"
    sandbox_job = sandbox_job_of(settings, job("java", source))
    assert sandbox_job.files[0].name == "Program.java"
    assert sandbox_job.run_argv[-1] == "Program"


def test_java_without_a_class_uses_main_java(settings: Settings) -> None:
    sandbox_job = sandbox_job_of(settings, job("java", "void main() {}"))
    assert sandbox_job.files[0].name == "Main.java"
    assert sandbox_job.run_argv[-1] == "Main"


def test_java_main_java_may_be_a_job_file_when_the_class_differs(settings: Settings) -> None:
    files = [JobFile(name="Main.java", content="class Main {}")]
    sandbox_job = sandbox_job_of(settings, job("java", JAVA_SOLUTION, files=files))
    assert [file.name for file in sandbox_job.files] == ["Solution.java", "Main.java"]


# --- poison jobs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "source", "name"),
    [
        ("python", "print(1)", "main.py"),
        ("cpp", "int main(){}", "main.cpp"),
        ("java", JAVA_SOLUTION, "Solution.java"),
        ("java", "class Main { public static void main(String[] a) {} }", "Main.java"),
    ],
)
def test_job_file_named_like_the_main_file_is_poison(
    settings: Settings, language: str, source: str, name: str
) -> None:
    poisoned = job(
        language,
        source,
        files=[JobFile(name="ok.txt", content=""), JobFile(name=name, content="x")],
    )
    with pytest.raises(PoisonJob, match=name):
        sandbox_job_of(settings, poisoned)


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd"])
def test_unsafe_job_file_name_is_poison(settings: Settings, name: str) -> None:
    with pytest.raises(PoisonJob):
        sandbox_job_of(settings, job(files=[JobFile(name=name, content="x")]))


# --- the sandbox job ---------------------------------------------------------------------------


def test_python_sandbox_job(settings: Settings, make_job: Callable[..., Job]) -> None:
    job = make_job("print('é')")
    sandbox_job = native_sandbox_job(settings, job, LANGUAGES["python"])

    assert sandbox_job.job_id == job.id
    prestart = Prestart(("python3", "main.py"), "main.py")
    assert sandbox_job.spec == SandboxSpec("python-img", 256 << 20, 0.5, prestart)
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
