from runakode.models import JobResult, Status
from runakode.sandboxes.launcher_protocol import LauncherOutput, PhaseReport


def _report_status(report: PhaseReport) -> Status:
    if report.timed_out:
        return Status.TIMEOUT
    if report.output_limit:
        return Status.OUTPUT_LIMIT
    return Status.OK if report.exit_code == 0 else Status.RUNTIME_ERROR


def finished_result(output: LauncherOutput) -> JobResult:
    """The result of a job whose launcher reported to the end."""
    if output.launcher_error is not None:
        return JobResult.internal_error(f"sandbox launcher failed: {output.launcher_error}")
    compile_report = output.compile_report
    report = output.run_report
    stdout, stderr = output.stdout, output.stderr
    if report is None and compile_report is not None:
        report, stdout, stderr = compile_report, output.compile_stdout, output.compile_stderr
    assert report is not None
    status = _report_status(report)
    if compile_report is not None and report is compile_report and status == Status.OK:
        status = Status.RUNTIME_ERROR
    return JobResult(
        stdout=stdout.text(),
        stderr=stderr.text(),
        exit_code=report.exit_code,
        timeout=status == Status.TIMEOUT,
        exec_time_ms=report.time_ms,
        status=status,
        truncated=report.truncated or stdout.truncated or stderr.truncated,
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
    )
