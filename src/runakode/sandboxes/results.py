from runakode.models import CompileResult, JobResult, Status
from runakode.sandboxes.launcher_protocol import LauncherOutput, PhaseReport


def _report_status(report: PhaseReport) -> Status:
    if report.timed_out:
        return Status.TIMEOUT
    if report.output_limit:
        return Status.OUTPUT_LIMIT
    return Status.OK if report.exit_code == 0 else Status.RUNTIME_ERROR


def compile_result(output: LauncherOutput) -> CompileResult | None:
    report = output.compile_report
    if report is None:
        return None
    return CompileResult(
        stdout=output.compile_stdout.text(),
        stderr=output.compile_stderr.text(),
        exit_code=report.exit_code,
        exec_time_ms=report.time_ms,
        timeout=report.timed_out,
    )


def finished_result(output: LauncherOutput) -> JobResult:
    """The result of a job whose launcher reported to the end."""
    if output.launcher_error is not None:
        return JobResult.internal_error(f"sandbox launcher failed: {output.launcher_error}")
    compiled = compile_result(output)
    report = output.run_report
    if report is None:
        # Compiling failed, so the program never ran. Its diagnostics also stand where
        # clients from before the `compile` field look for them.
        assert compiled is not None
        return JobResult(
            stdout=compiled.stdout,
            stderr=compiled.stderr,
            exit_code=compiled.exit_code,
            timeout=False,
            exec_time_ms=0,
            status=Status.COMPILE_ERROR,
            truncated=output.compile_stdout.truncated or output.compile_stderr.truncated,
            compile=compiled,
        )
    stdout, stderr = output.stdout, output.stderr
    status = _report_status(report)
    return JobResult(
        stdout=stdout.text(),
        stderr=stderr.text(),
        exit_code=report.exit_code,
        timeout=status == Status.TIMEOUT,
        exec_time_ms=report.time_ms,
        status=status,
        truncated=report.truncated or stdout.truncated or stderr.truncated,
        compile=compiled,
    )


def abnormal_result(
    output: LauncherOutput, oom_killed: bool, exit_code: int, host_timeout: bool, elapsed_ms: int
) -> JobResult:
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
    stderr = output.stderr.text()
    separator = "" if not stderr or stderr.endswith("\n") else "\n"
    return JobResult(
        stdout=output.stdout.text(),
        stderr=f"{stderr}{separator}runakode: {note}\n",
        exit_code=exit_code if exit_code else 137,
        timeout=status == Status.TIMEOUT,
        exec_time_ms=elapsed_ms,
        status=status,
        truncated=output.stdout.truncated or output.stderr.truncated,
        compile=compile_result(output),
    )
