"""runakode.judge0.grading: sandbox results to Judge0's status, output and measurements."""

from dataclasses import replace

import pytest

from runakode.judge0.grading import matches_expected, outcome_of
from runakode.models import Status
from runakode.sandboxes.base import PhaseResult, SandboxResult, TimeLimit
from runakode.submissions.record import Judge0Status, SubmissionOutcome, SubmissionRequest

REQUEST = SubmissionRequest(source_code=b"int main(){}", language_id=50)


def phase(
    stdout: bytes = b"",
    stderr: bytes = b"",
    exit_code: int = 0,
    signal: int | None = None,
    wall_time_ms: int = 50,
    cpu_time_ms: int | None = 12,
    memory_kb: int | None = 3520,
    **flags: object,
) -> PhaseResult:
    return PhaseResult(
        stdout, stderr, exit_code, signal, wall_time_ms, cpu_time_ms, memory_kb, **flags
    )  # type: ignore[arg-type]


def ran(
    run: PhaseResult | None,
    status: Status = Status.OK,
    compile: PhaseResult | None = None,
    note: str | None = None,
) -> SandboxResult:
    return SandboxResult(status, compile, run, note)


def grade(*results: SandboxResult, request: SubmissionRequest = REQUEST) -> SubmissionOutcome:
    return outcome_of(results, request)


# --- accepted and wrong answer ------------------------------------------------------------------


def test_accepted_without_expected_output() -> None:
    outcome = grade(ran(phase(stdout=b"hi\n")))

    assert outcome == SubmissionOutcome(
        status=Judge0Status.ACCEPTED,
        stdout=b"hi\n",
        stderr=None,
        compile_output=None,
        time=0.012,
        wall_time=0.05,
        memory=3520,
        exit_code=0,
        exit_signal=None,
        message=None,
    )


def test_expected_output_decides_between_accepted_and_wrong_answer() -> None:
    expecting = replace(REQUEST, expected_output=b"42\n")

    assert grade(ran(phase(stdout=b"42")), request=expecting).status == Judge0Status.ACCEPTED
    wrong = grade(ran(phase(stdout=b"41\n", stderr=b"dbg")), request=expecting)
    assert wrong.status == Judge0Status.WRONG_ANSWER
    assert (wrong.stdout, wrong.stderr, wrong.message, wrong.exit_code) == (
        b"41\n",
        b"dbg",
        None,
        0,
    )


def test_empty_output_against_empty_expected_output_is_accepted() -> None:
    expecting = replace(REQUEST, expected_output=b"")

    assert grade(ran(phase(stdout=b"")), request=expecting).status == Judge0Status.ACCEPTED


@pytest.mark.parametrize(
    ("expected", "stdout", "matches"),
    [
        (b"a\nb\n", b"a\nb\n", True),
        (b"a\nb", b"a\nb\n\n\n", True),  # trailing newlines
        (b"a  \nb\t\n", b"a\nb", True),  # trailing spaces on each line
        (b"a\r\nb\r\n", b"a\nb\n", True),  # CRLF against LF
        (b"a\nb", b"a\r\nb\r\n", True),
        (b"a\x00\n", b"a", True),  # Ruby's rstrip also removes NUL
        (b"a\x0b\x0c", b"a", True),
        (b"", None, True),  # no output is empty output
        (b"\n \n", None, True),
        (b"", b"  \n", True),
        (b"a\nb", b"a b", False),
        (b" a", b"a", False),  # leading whitespace counts
        (b"a\n\nb", b"a\nb", False),  # so do blank lines in between
        (b"A", b"a", False),
        (b"1.0", b"1", False),
        (b"x", None, False),
        ("é\n".encode(), "é".encode(), True),
        (b"\xff\xfe ", b"\xff\xfe", True),  # bytes, whatever their encoding
        (b"a\xa0", b"a", False),  # only ASCII whitespace is stripped
    ],
)
def test_matches_expected(expected: bytes, stdout: bytes | None, matches: bool) -> None:
    assert matches_expected(expected, stdout) is matches


# --- compilation --------------------------------------------------------------------------------


def test_compilation_error_nulls_everything_the_run_would_set() -> None:
    compile = phase(stdout=b"main.c:1: error: expected ';'\n", exit_code=1)

    outcome = grade(ran(None, Status.COMPILE_ERROR, compile))

    assert outcome == SubmissionOutcome(
        status=Judge0Status.COMPILATION_ERROR,
        compile_output=b"main.c:1: error: expected ';'\n",
    )


def test_compile_output_is_stdout_then_stderr() -> None:
    compile = phase(stdout=b"out\n", stderr=b"err\n", exit_code=1)

    assert grade(ran(None, Status.COMPILE_ERROR, compile)).compile_output == b"out\nerr\n"


def test_compile_time_out_says_so_in_compile_output() -> None:
    compile = phase(stdout=b"partial", exit_code=137, signal=9, time_limit=TimeLimit.WALL)

    outcome = grade(ran(None, Status.COMPILE_ERROR, compile))

    assert outcome.status == Judge0Status.COMPILATION_ERROR
    assert outcome.compile_output == b"Compilation time limit exceeded."


def test_a_compiler_killed_by_a_signal_is_a_compilation_error() -> None:
    compile = phase(stdout=b"", exit_code=0, signal=9)

    outcome = grade(ran(None, Status.RUNTIME_ERROR, compile))

    assert outcome.status == Judge0Status.COMPILATION_ERROR
    assert outcome.compile_output is None


def test_compile_error_status_without_a_compile_report() -> None:
    outcome = grade(ran(None, Status.COMPILE_ERROR))

    assert outcome == SubmissionOutcome(status=Judge0Status.COMPILATION_ERROR)


def test_compiler_warnings_stay_in_compile_output_of_a_successful_run() -> None:
    compile = phase(stdout=b"warning: unused variable\n")

    outcome = grade(ran(phase(stdout=b"ok"), compile=compile))

    assert outcome.status == Judge0Status.ACCEPTED
    assert outcome.compile_output == b"warning: unused variable\n"


def test_a_silent_successful_compile_gives_null_compile_output() -> None:
    assert grade(ran(phase(), compile=phase())).compile_output is None


def test_compilation_error_after_accepted_runs_has_no_measurements() -> None:
    compile_error = ran(None, Status.COMPILE_ERROR, phase(stdout=b"e", exit_code=1))

    outcome = grade(ran(phase()), compile_error)

    assert outcome.status == Judge0Status.COMPILATION_ERROR
    assert (outcome.time, outcome.wall_time, outcome.memory) == (None, None, None)


# --- time, memory, output limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "message"),
    [(TimeLimit.CPU, "Time limit exceeded"), (TimeLimit.WALL, "Time limit exceeded (wall clock)")],
)
def test_time_limit_exceeded(limit: TimeLimit, message: str) -> None:
    run = phase(stdout=b"partial", exit_code=137, signal=9, cpu_time_ms=6000, time_limit=limit)

    outcome = grade(ran(run, Status.TIMEOUT))

    assert outcome.status == Judge0Status.TIME_LIMIT_EXCEEDED
    assert outcome.message == message
    assert (outcome.exit_code, outcome.exit_signal) == (0, None)
    assert outcome.stdout == b"partial"
    assert outcome.time == 6.0


def test_a_sandbox_stopped_from_outside_is_a_wall_clock_time_out() -> None:
    hung = ran(None, Status.TIMEOUT, note="the sandbox stopped answering and was killed")

    outcome = grade(hung)

    assert outcome.status == Judge0Status.TIME_LIMIT_EXCEEDED
    assert outcome.message == "Time limit exceeded (wall clock)"
    assert (outcome.time, outcome.memory) == (None, None)
    partial = grade(ran(phase(stdout=b"x"), Status.TIMEOUT, note="stopped"))
    assert partial.status == Judge0Status.TIME_LIMIT_EXCEEDED
    assert partial.message == "Time limit exceeded (wall clock)"


@pytest.mark.parametrize(
    "result",
    [
        ran(phase(exit_code=137, signal=9, memory_exceeded=True), Status.MEMORY_LIMIT),
        ran(phase(exit_code=137, signal=9), Status.MEMORY_LIMIT),
        ran(phase(exit_code=137, signal=9, memory_exceeded=True), Status.RUNTIME_ERROR),
        ran(None, Status.MEMORY_LIMIT, note="the program exceeded its memory limit"),
    ],
)
def test_memory_limit_is_runtime_error_other_with_sigkill(result: SandboxResult) -> None:
    outcome = grade(result)

    assert outcome.status == Judge0Status.OTHER
    assert outcome.message == "Memory limit exceeded"
    assert (outcome.exit_code, outcome.exit_signal) == (0, 9)


@pytest.mark.parametrize(
    "result",
    [
        ran(phase(stdout=b"y\n" * 100, output_limit=True, truncated=True), Status.OUTPUT_LIMIT),
        ran(phase(stderr=b"e", output_limit=True), Status.OK),
        ran(phase(stdout=b"y"), Status.OUTPUT_LIMIT),
        ran(None, Status.OUTPUT_LIMIT),
    ],
)
def test_output_limit_is_sigxfsz(result: SandboxResult) -> None:
    outcome = grade(result)

    assert outcome.status == Judge0Status.SIGXFSZ
    assert (outcome.exit_code, outcome.exit_signal) == (0, 25)
    assert outcome.message == "Caught fatal signal 25"


# --- signals and exit codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "status"),
    [
        (11, Judge0Status.SIGSEGV),
        (25, Judge0Status.SIGXFSZ),
        (8, Judge0Status.SIGFPE),
        (6, Judge0Status.SIGABRT),
        (9, Judge0Status.OTHER),
        (15, Judge0Status.OTHER),
        (5, Judge0Status.OTHER),
        (31, Judge0Status.OTHER),
    ],
)
def test_killed_by_a_signal(signal: int, status: Judge0Status) -> None:
    run = phase(stdout=b"before", stderr=b"core", exit_code=128 + signal, signal=signal)

    outcome = grade(ran(run, Status.RUNTIME_ERROR))

    assert outcome.status == status
    assert outcome.message == f"Caught fatal signal {signal}"
    assert (outcome.exit_code, outcome.exit_signal) == (0, signal)
    assert (outcome.stdout, outcome.stderr) == (b"before", b"core")


@pytest.mark.parametrize("code", [1, 2, 127, 255])
def test_non_zero_exit(code: int) -> None:
    outcome = grade(ran(phase(stderr=b"Traceback", exit_code=code), Status.RUNTIME_ERROR))

    assert outcome.status == Judge0Status.NZEC
    assert outcome.message == f"Exited with error status {code}"
    assert (outcome.exit_code, outcome.exit_signal) == (code, None)
    assert outcome.stderr == b"Traceback"


def test_a_failed_run_is_not_compared_with_the_expected_output() -> None:
    expecting = replace(REQUEST, expected_output=b"x")

    outcome = grade(ran(phase(stdout=b"x", exit_code=1), Status.RUNTIME_ERROR), request=expecting)

    assert outcome.status == Judge0Status.NZEC


# --- abnormal ends and internal errors ----------------------------------------------------------


def test_internal_error_carries_the_note() -> None:
    outcome = grade(SandboxResult.internal_error("sandbox launcher failed: boom"))

    assert outcome == SubmissionOutcome(
        status=Judge0Status.INTERNAL_ERROR, message="sandbox launcher failed: boom"
    )


def test_internal_error_without_a_note_still_says_something() -> None:
    outcome = grade(ran(None, Status.INTERNAL_ERROR))

    assert outcome.status == Judge0Status.INTERNAL_ERROR
    assert outcome.message


def test_a_sandbox_brought_down_is_runtime_error_other_with_the_note() -> None:
    note = "the program brought its sandbox down (exit status 1)"

    outcome = grade(ran(None, Status.RUNTIME_ERROR, note=note))

    assert outcome.status == Judge0Status.OTHER
    assert outcome.message == note
    assert (outcome.exit_code, outcome.exit_signal) == (0, None)


def test_an_abnormal_end_with_a_clean_looking_report_keeps_the_note() -> None:
    note = "the program corrupted the sandbox's output"

    outcome = grade(ran(phase(stdout=b"x"), Status.RUNTIME_ERROR, note=note))

    assert outcome.status == Judge0Status.OTHER
    assert outcome.message == note
    assert outcome.stdout == b"x"


def test_a_signal_beats_the_note() -> None:
    outcome = grade(ran(phase(exit_code=139, signal=11), Status.RUNTIME_ERROR, note="down"))

    assert outcome.message == "Caught fatal signal 11"


def test_no_run_and_no_reason_is_an_internal_error() -> None:
    assert grade(ran(None, Status.OK)).status == Judge0Status.INTERNAL_ERROR


def test_no_results_at_all_is_an_internal_error() -> None:
    outcome = outcome_of([], REQUEST)

    assert outcome.status == Judge0Status.INTERNAL_ERROR
    assert outcome.message


# --- several runs -------------------------------------------------------------------------------


def test_measurements_are_averaged_over_the_runs() -> None:
    runs = [
        ran(phase(stdout=b"1", cpu_time_ms=10, wall_time_ms=40, memory_kb=100)),
        ran(phase(stdout=b"2", cpu_time_ms=20, wall_time_ms=50, memory_kb=101)),
        ran(phase(stdout=b"3", cpu_time_ms=30, wall_time_ms=61, memory_kb=103)),
    ]

    outcome = grade(*runs)

    assert outcome.status == Judge0Status.ACCEPTED
    assert outcome.stdout == b"3"  # the last run's
    assert outcome.time == 0.02
    assert outcome.wall_time == 0.050333
    assert outcome.memory == 101  # 101.33 truncated, as Judge0's integer column


def test_the_last_run_decides_and_every_run_that_ran_is_averaged() -> None:
    runs = [
        ran(phase(cpu_time_ms=100, memory_kb=1000)),
        ran(
            phase(exit_code=137, signal=9, cpu_time_ms=2100, time_limit=TimeLimit.CPU),
            Status.TIMEOUT,
        ),
    ]

    outcome = grade(*runs)

    assert outcome.status == Judge0Status.TIME_LIMIT_EXCEEDED
    assert outcome.time == 1.1
    assert outcome.memory == (1000 + 3520) // 2


def test_missing_measurements_are_left_out_of_the_average() -> None:
    runs = [ran(phase(cpu_time_ms=None, memory_kb=None)), ran(phase(cpu_time_ms=30, memory_kb=70))]

    outcome = grade(*runs)

    assert (outcome.time, outcome.memory) == (0.03, 70)


def test_no_measurement_at_all_is_null() -> None:
    outcome = grade(ran(phase(cpu_time_ms=None, memory_kb=None)))

    assert (outcome.time, outcome.memory) == (None, None)
    assert outcome.wall_time == 0.05


def test_an_internal_error_after_accepted_runs_keeps_their_measurements() -> None:
    outcome = grade(ran(phase(cpu_time_ms=40)), SandboxResult.internal_error("lost"))

    assert outcome.status == Judge0Status.INTERNAL_ERROR
    assert outcome.message == "lost"
    assert outcome.time == 0.04


def test_every_path_gives_a_status_judge0_clients_know() -> None:
    results = [
        ran(phase()),
        ran(phase(exit_code=1)),
        ran(phase(signal=11, exit_code=139)),
        ran(None, Status.COMPILE_ERROR),
        ran(None, Status.MEMORY_LIMIT),
        ran(None, Status.RUNTIME_ERROR),
        ran(None, Status.INTERNAL_ERROR),
        ran(None, Status.TIMEOUT),
        ran(None, Status.OUTPUT_LIMIT),
        ran(None, Status.OK),
    ]
    for result in results:
        assert 3 <= grade(result).status <= 13
