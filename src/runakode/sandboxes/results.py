from runakode.models import Status
from runakode.sandboxes.base import PhaseResult, SandboxResult, Stream, TimeLimit
from runakode.sandboxes.launcher_protocol import CappedBuffer, LauncherOutput, PhaseReport


def _phase(report: PhaseReport, stdout: CappedBuffer, stderr: CappedBuffer) -> PhaseResult:
    return PhaseResult(
        stdout=bytes(stdout.data),
        stderr=bytes(stderr.data),
        exit_code=report.exit_code,
        signal=report.signal,
        wall_time_ms=report.time_ms,
        cpu_time_ms=report.cpu_time_ms,
        memory_kb=report.memory_kb,
        time_limit=report.time_limit,
        memory_exceeded=report.memory_exceeded,
        output_limit=report.output_limit,
        truncated=report.truncated or stdout.truncated or stderr.truncated,
        flooded=_flooded(report, stdout),
        prestarted=report.prestarted,
    )


def _flooded(report: PhaseReport, stdout: CappedBuffer) -> Stream | None:
    # The launcher stops a stream at its cap and the host keeps exactly as much: the full one
    # is the one that flooded (merged output all goes to stdout).
    if not report.output_limit:
        return None
    return Stream.STDOUT if stdout.full else Stream.STDERR


def run_status(run: PhaseResult) -> Status:
    if run.time_limit is not None:
        return Status.TIMEOUT
    if run.memory_exceeded:
        return Status.MEMORY_LIMIT
    if run.output_limit:
        return Status.OUTPUT_LIMIT
    return Status.OK if run.exit_code == 0 else Status.RUNTIME_ERROR


def compile_result(output: LauncherOutput) -> PhaseResult | None:
    report = output.compile_report
    if report is None:
        return None
    return _phase(report, output.compile_stdout, output.compile_stderr)


def run_result(output: LauncherOutput) -> PhaseResult | None:
    report = output.run_report
    if report is None:
        return None
    return _phase(report, output.stdout, output.stderr)


def finished_result(output: LauncherOutput) -> SandboxResult:
    """The result of a job whose launcher reported to the end."""
    if output.launcher_error is not None:
        return SandboxResult.internal_error(f"sandbox launcher failed: {output.launcher_error}")
    compiled = compile_result(output)
    run = run_result(output)
    if run is None:
        # Compiling failed, so the program never ran.
        assert compiled is not None
        return SandboxResult(Status.COMPILE_ERROR, compiled, None)
    return SandboxResult(run_status(run), compiled, run)


def abnormal_result(
    output: LauncherOutput, oom_killed: bool, exit_code: int, host_timeout: bool, elapsed_ms: int
) -> SandboxResult:
    """The result of a job whose sandbox ended (or hung) before its launcher could report."""
    if oom_killed:
        status, note = Status.MEMORY_LIMIT, "the program exceeded its memory limit"
    elif host_timeout:
        status, note = Status.TIMEOUT, "the sandbox stopped answering and was killed"
    elif output.malformed:
        status, note = Status.RUNTIME_ERROR, "the program corrupted the sandbox's output"
    else:
        status = Status.RUNTIME_ERROR
        note = f"the program brought its sandbox down (exit status {exit_code})"
    run = PhaseResult(
        stdout=bytes(output.stdout.data),
        stderr=bytes(output.stderr.data),
        exit_code=exit_code if exit_code else 137,
        # What ended it is the sandbox's exit, not a signal the program received.
        signal=None,
        wall_time_ms=elapsed_ms,
        time_limit=TimeLimit.WALL if host_timeout else None,
        memory_exceeded=oom_killed,
        truncated=output.stdout.truncated or output.stderr.truncated,
    )
    return SandboxResult(status, compile_result(output), run, note)
