from collections.abc import Sequence
from dataclasses import replace

from runakode.models import Status
from runakode.sandboxes.base import PhaseResult, SandboxResult, TimeLimit
from runakode.submissions.record import Judge0Status, SubmissionOutcome, SubmissionRequest

COMPILE_TIME_LIMIT_TEXT = "Compilation time limit exceeded."
CPU_TIME_LIMIT_TEXT = "Time limit exceeded"
WALL_TIME_LIMIT_TEXT = "Time limit exceeded (wall clock)"
MEMORY_LIMIT_TEXT = "Memory limit exceeded"
NO_RESULT_TEXT = "the sandbox reported no result for the program"

SIGKILL = 9
SIGXFSZ = 25
# isolate's `SG` statuses by Linux signal number (app/enumerations/status.rb).
_SIGNAL_STATUS = {
    11: Judge0Status.SIGSEGV,
    SIGXFSZ: Judge0Status.SIGXFSZ,
    8: Judge0Status.SIGFPE,
    6: Judge0Status.SIGABRT,
}
# What Ruby's String#rstrip removes (ASCII whitespace and NUL); Judge0 compares bytes.
_TRAILING = b" \t\n\v\f\r\0"


def outcome_of(runs: Sequence[SandboxResult], request: SubmissionRequest) -> SubmissionOutcome:
    """Judge0's answer for a submission from the results of its runs, in order (the worker
    stops after the first run that is not Accepted, so every earlier run was Accepted).

    Status, output and message are the last run's; time, wall_time and memory are averaged over
    every run whose program ran (a compilation error has none, as in Judge0).
    """
    if not runs:
        return SubmissionOutcome.internal_error(NO_RESULT_TEXT)
    last = _grade(runs[-1], request)
    if last.status == Judge0Status.COMPILATION_ERROR:
        return last
    ran = [result.run for result in runs if result.run is not None]
    cpu_ms = [phase.cpu_time_ms for phase in ran if phase.cpu_time_ms is not None]
    memory_kb = [phase.memory_kb for phase in ran if phase.memory_kb is not None]
    return replace(
        last,
        # Averaged in milliseconds, rounded to microseconds: no float noise in the decimals.
        time=round(sum(cpu_ms) / len(cpu_ms) / 1000, 6) if cpu_ms else None,
        wall_time=round(sum(p.wall_time_ms for p in ran) / len(ran) / 1000, 6) if ran else None,
        # Judge0 stores the average in an integer column: truncated.
        memory=sum(memory_kb) // len(memory_kb) if memory_kb else None,
    )


def matches_expected(expected: bytes, stdout: bytes | None) -> bool:
    """Judge0's comparison: trailing whitespace removed from every line and from the whole
    (`split("\\n").map(&:rstrip).join("\\n").rstrip`), so CRLF equals LF and a missing final
    newline does not matter; leading whitespace and blank lines in between do.

    No output counts as empty output (Judge0 compares against nil there and answers Wrong
    Answer even to an empty expected_output).
    """
    return _strip(expected) == _strip(stdout or b"")


def _strip(text: bytes) -> bytes:
    return b"\n".join(line.rstrip(_TRAILING) for line in text.split(b"\n")).rstrip(_TRAILING)


def _grade(result: SandboxResult, request: SubmissionRequest) -> SubmissionOutcome:
    """One run's status, output and message (no measurements: outcome_of averages those)."""
    if result.status == Status.INTERNAL_ERROR:
        return SubmissionOutcome.internal_error(result.note or NO_RESULT_TEXT)
    compiled = result.compile
    compile_output = _compile_output(compiled) if compiled else None
    if (compiled is not None and _compile_failed(compiled)) or (
        result.run is None and result.status == Status.COMPILE_ERROR
    ):
        # Judge0 nulls everything the run would have set (isolate_job.rb, compile).
        return SubmissionOutcome(
            status=Judge0Status.COMPILATION_ERROR, compile_output=compile_output
        )
    run = result.run
    if run is None:
        return _without_run(result, compile_output)
    outcome = SubmissionOutcome(
        status=Judge0Status.ACCEPTED,
        stdout=run.stdout or None,
        stderr=run.stderr or None,
        compile_output=compile_output,
        exit_code=0,
    )
    if run.time_limit is not None:
        text = CPU_TIME_LIMIT_TEXT if run.time_limit == TimeLimit.CPU else WALL_TIME_LIMIT_TEXT
        return replace(outcome, status=Judge0Status.TIME_LIMIT_EXCEEDED, message=text)
    if run.memory_exceeded or result.status == Status.MEMORY_LIMIT:
        return _memory_limit(outcome)
    if run.output_limit or result.status == Status.OUTPUT_LIMIT:
        return _signalled(outcome, SIGXFSZ)
    if result.status == Status.TIMEOUT:
        # The sandbox was stopped from outside before the program's own limits fired.
        return replace(
            outcome, status=Judge0Status.TIME_LIMIT_EXCEEDED, message=WALL_TIME_LIMIT_TEXT
        )
    if run.signal is not None:
        return _signalled(outcome, run.signal)
    if run.exit_code != 0:
        return replace(
            outcome,
            status=Judge0Status.NZEC,
            exit_code=run.exit_code,
            message=f"Exited with error status {run.exit_code}",
        )
    if result.status != Status.OK:
        # The sandbox ended abnormally although the program's report looks clean.
        return replace(outcome, status=Judge0Status.OTHER, message=result.note)
    expected = request.expected_output
    if expected is not None and not matches_expected(expected, run.stdout):
        return replace(outcome, status=Judge0Status.WRONG_ANSWER)
    return outcome


def _without_run(result: SandboxResult, compile_output: bytes | None) -> SubmissionOutcome:
    """The program started (or should have) but the sandbox gave no report of it."""
    outcome = SubmissionOutcome(
        status=Judge0Status.OTHER, compile_output=compile_output, exit_code=0
    )
    if result.status == Status.TIMEOUT:
        return replace(
            outcome, status=Judge0Status.TIME_LIMIT_EXCEEDED, message=WALL_TIME_LIMIT_TEXT
        )
    if result.status == Status.MEMORY_LIMIT:
        return _memory_limit(outcome)
    if result.status == Status.OUTPUT_LIMIT:
        return _signalled(outcome, SIGXFSZ)
    if result.status == Status.RUNTIME_ERROR:
        return replace(outcome, message=result.note)
    return SubmissionOutcome.internal_error(result.note or NO_RESULT_TEXT)


def _compile_failed(phase: PhaseResult) -> bool:
    return phase.failed or phase.signal is not None or phase.memory_exceeded


def _compile_output(phase: PhaseResult) -> bytes | None:
    # Compiled with merge_output, so stderr is normally empty; a warning-only success keeps
    # its output too, as in Judge0.
    if phase.time_limit is not None:
        return COMPILE_TIME_LIMIT_TEXT.encode()
    return (phase.stdout + phase.stderr) or None


def _memory_limit(outcome: SubmissionOutcome) -> SubmissionOutcome:
    # Judge0 has no such status (and clients break on ids above 14): a SIGKILL'd run, 12,
    # named for what it was.
    return replace(
        outcome, status=Judge0Status.OTHER, exit_signal=SIGKILL, message=MEMORY_LIMIT_TEXT
    )


def _signalled(outcome: SubmissionOutcome, number: int) -> SubmissionOutcome:
    return replace(
        outcome,
        status=_SIGNAL_STATUS.get(number, Judge0Status.OTHER),
        exit_signal=number,
        message=f"Caught fatal signal {number}",
    )
