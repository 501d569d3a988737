"""The job contract: what a request becomes on its way to a sandbox, and which limits apply.

Every route family turns its request into a job here, and every worker turns a job into a
SandboxJob here, so the limits are resolved in one place: the API refuses what exceeds the
operator's caps (a clear 400/422), the worker clamps to them again (defence in depth).

Deadlines, innermost first:
1. the launcher in the sandbox kills the compiler at CompileStep.timeout_s (the language's own
   deadline, at most compileTimeout) and
   the program at RunLimits.wall_time_s (jobTimeout at most) or when its CPU time passes
   cpu_time_s + cpu_extra_s;
2. the host kills a sandbox that has not reported within SandboxJob.deadline_s plus
   hardening.BOOT_ALLOWANCE_S (sandboxes/*_impl.py);
3. POST /api gives up after apiTimeout (504) and its job message expires with it; Judge0's
   wait=true waits apiTimeout plus the submission's own worst case, then answers what it has.
"""

import base64
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from runakode.archives import extract_zip
from runakode.argv import split_words
from runakode.availability import unavailable_message
from runakode.config import MIN_MEMORY_BYTES, Settings
from runakode.errors import BadRequest, PoisonJob
from runakode.judge0.grading import matches_expected
from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.languages import LANGUAGES, Language, resolve
from runakode.models import (
    CompileResult,
    ExecuteRequest,
    Job,
    JobFile,
    JobResult,
    Limits,
    Status,
    Verdict,
    check_file_name,
)
from runakode.sandboxes.base import (
    CompileStep,
    Prestart,
    RunLimits,
    SandboxFile,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
)
from runakode.submissions.record import Submission, SubmissionRequest

KB = 1024


@dataclass(frozen=True)
class NativeLimits:
    timeout_s: float
    memory_bytes: int | None
    output_max_bytes: int


def resolve_native_limits(
    settings: Settings, limits: Limits | None, *, refuse: bool
) -> NativeLimits:
    """A native request's limits against the operator's caps: refused (BadRequest) above a cap
    when `refuse`, otherwise clamped to it. Absent: the cap itself (memory: the sandbox's)."""
    limits = limits or Limits()
    memory_mb_cap = settings.job_memory_bytes / (1 << 20)
    caps: tuple[tuple[str, float | None, float], ...] = (
        ("timeout_s", limits.timeout_s, settings.job_timeout_s),
        ("memory_mb", limits.memory_mb, memory_mb_cap),
        ("output_max_bytes", limits.output_max_bytes, settings.output_max_bytes),
    )
    if refuse:
        for name, value, cap in caps:
            if value is not None and value > cap:
                shown = int(cap) if float(cap).is_integer() else cap
                raise BadRequest(f"limits.{name}: at most {shown} on this service")
        if limits.memory_mb is not None and limits.memory_mb << 20 < MIN_MEMORY_BYTES:
            raise BadRequest(f"limits.memory_mb: at least {MIN_MEMORY_BYTES >> 20}")
    memory_bytes = (
        min(limits.memory_mb << 20, settings.job_memory_bytes)
        if limits.memory_mb is not None
        else None
    )
    return NativeLimits(
        timeout_s=min(limits.timeout_s or settings.job_timeout_s, settings.job_timeout_s),
        memory_bytes=memory_bytes,
        output_max_bytes=min(
            limits.output_max_bytes or settings.output_max_bytes, settings.output_max_bytes
        ),
    )


def build_job(
    settings: Settings,
    body: ExecuteRequest,
    *,
    request_id: str | None,
    merge_output: bool = False,
    interactive: bool = False,
    unavailable: Collection[str] = (),
) -> Job:
    """A native request as a job; BadRequest for what depends on the operator's settings and
    for a language whose image no worker has."""
    language = resolve(body.language)
    if language is None or language.name not in settings.supported_languages:
        supported = ", ".join(settings.supported_languages)
        raise BadRequest(f"language {body.language!r} is not supported ({supported})")
    if language.name in unavailable:
        raise BadRequest(unavailable_message(language.name, settings))
    main_file = language.main_file(body.source_code)
    if any(file.name == main_file for file in body.files):
        raise BadRequest(f"files: {main_file!r} is the name of the main source file")
    limits = body.limits or Limits()
    resolve_native_limits(settings, limits, refuse=True)
    return Job(
        id=uuid.uuid4().hex,
        language=language.name,
        source_code=body.source_code,
        stdin=body.stdin,
        args=body.args,
        files=[JobFile(name=file.name, content=file.content) for file in body.files],
        timeout_s=limits.timeout_s,
        memory_bytes=limits.memory_mb << 20 if limits.memory_mb is not None else None,
        output_max_bytes=limits.output_max_bytes,
        merge_output=merge_output,
        interactive=interactive,
        expected_output=body.expected_output,
        request_id=request_id,
    )


def served_language(settings: Settings, name: str) -> Language:
    """The language of a queued job, if this worker serves it; PoisonJob otherwise."""
    if name not in settings.supported_languages or name not in LANGUAGES:
        raise PoisonJob(f"language {name!r} is not served by this worker")
    return LANGUAGES[name]


def sandbox_spec(settings: Settings, language: Language) -> SandboxSpec:
    """How every sandbox of a language boots (so the pool can boot it ahead); a job's own,
    lower memory limit is enforced inside it."""
    prestart = (
        Prestart(
            language.run_argv(language.source_file),
            language.source_file,
            language.prestart_prelude,
        )
        if language.prestart
        else None
    )
    return SandboxSpec(
        settings.sandbox_images[language.name],
        settings.job_memory_bytes,
        settings.job_cpus,
        prestart,
    )


def compile_timeout_s(
    settings: Settings, language: Language, requested_s: float | None = None
) -> float:
    """A compile's deadline: the one asked for, else the toolchain's own; never above the
    operator's compileTimeout."""
    return min(requested_s or language.compile_timeout_s, settings.compile_timeout_s)


def answer_deadline_s(settings: Settings, job: Job) -> float:
    """How long a route waits for a job's answer: apiTimeout, plus its compile's deadline when
    its language compiles (a Scala program may take most of a minute to compile here)."""
    language = LANGUAGES.get(job.language)
    if language is None or language.compile is None:
        return settings.api_timeout_s
    return settings.api_timeout_s + compile_timeout_s(settings, language, job.compile_timeout_s)


def _compile_step(
    settings: Settings,
    language: Language,
    files: tuple[SandboxFile, ...],
    options: tuple[str, ...] = (),
    *,
    merge_output: bool = False,
    requested_timeout_s: float | None = None,
) -> CompileStep | None:
    argv = language.compile_argv(files[0].name, options, [file.name for file in files])
    if argv is None:
        return None
    return CompileStep(
        argv=argv,
        timeout_s=compile_timeout_s(settings, language, requested_timeout_s),
        output_max_bytes=settings.compile_output_max_bytes,
        merge_output=merge_output,
        artifacts=language.artifacts,
    )


def native_sandbox_job(settings: Settings, job: Job, language: Language) -> SandboxJob:
    """A native job as the sandbox runs it; its limits never exceed the operator's."""
    main_file = language.main_file(job.source_code)
    extra = [file for file in job.files if file.name != main_file]
    if len(extra) != len(job.files):
        raise PoisonJob(f"a file is named like the main source file {main_file!r}")
    try:
        names = [check_file_name(file.name) for file in extra]
    except ValueError as exc:
        raise PoisonJob(f"unsafe file name: {exc}") from None
    try:
        files = (
            SandboxFile(main_file, language.source_prefix + job.source_code.encode("utf-8")),
            *(
                SandboxFile(name, _file_content(file))
                for name, file in zip(names, extra, strict=True)
            ),
        )
    except ValueError as exc:
        raise PoisonJob(f"a file's content is not valid base64: {exc}") from None
    limits = resolve_native_limits(
        settings,
        Limits(
            timeout_s=job.timeout_s,
            memory_mb=job.memory_bytes >> 20 if job.memory_bytes is not None else None,
            output_max_bytes=job.output_max_bytes,
        ),
        refuse=False,
    )
    return SandboxJob(
        job_id=job.id,
        spec=sandbox_spec(settings, language),
        files=files,
        run_argv=language.run_argv(main_file, tuple(job.args), [file.name for file in files]),
        limits=RunLimits(
            wall_time_s=limits.timeout_s,
            output_max_bytes=limits.output_max_bytes,
            cpu_time_s=min(job.cpu_time_s, limits.timeout_s) if job.cpu_time_s else None,
            memory_bytes=limits.memory_bytes,
        ),
        stdin=job.stdin.encode("utf-8"),
        merge_output=job.merge_output,
        compile=_compile_step(settings, language, files, requested_timeout_s=job.compile_timeout_s),
        interactive=job.interactive,
    )


def _file_content(file: JobFile) -> bytes:
    if file.encoding == "base64":
        return base64.b64decode(file.content, validate=True)
    return file.content.encode("utf-8")


def job_result(result: SandboxResult, expected_output: str | None = None) -> JobResult:
    """The native answer: text as a terminal shows it, the service's note on stderr."""
    if result.status == Status.INTERNAL_ERROR:
        return JobResult.internal_error(result.note or "the sandbox failed")
    compiled = result.compile
    compile_result = (
        CompileResult(
            stdout=_text(compiled.stdout),
            stderr=_text(compiled.stderr),
            exit_code=compiled.exit_code,
            exec_time_ms=compiled.wall_time_ms,
            timeout=compiled.time_limit is not None,
        )
        if compiled is not None
        else None
    )
    run = result.run
    if run is None:
        # Compiling failed, so the program never ran. Its diagnostics also stand where
        # clients from before the `compile` field look for them.
        assert compiled is not None and compile_result is not None
        return JobResult(
            stdout=compile_result.stdout,
            stderr=compile_result.stderr,
            exit_code=compiled.exit_code,
            timeout=False,
            exec_time_ms=0,
            status=result.status,
            truncated=compiled.truncated,
            compile=compile_result,
        )
    stderr = _text(run.stderr)
    if result.note:
        separator = "" if not stderr or stderr.endswith("\n") else "\n"
        stderr = f"{stderr}{separator}runakode: {result.note}\n"
    verdict = None
    if expected_output is not None and result.status == Status.OK:
        matched = matches_expected(expected_output.encode("utf-8"), run.stdout)
        verdict = Verdict.ACCEPTED if matched else Verdict.WRONG_ANSWER
    return JobResult(
        stdout=_text(run.stdout),
        stderr=stderr,
        exit_code=run.exit_code,
        timeout=result.status == Status.TIMEOUT,
        exec_time_ms=run.wall_time_ms,
        status=result.status,
        cpu_time_ms=run.cpu_time_ms,
        memory_kb=run.memory_kb,
        verdict=verdict,
        truncated=run.truncated,
        compile=compile_result,
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- Judge0 submissions ------------------------------------------------------------------


def submission_main_file(request: SubmissionRequest) -> str:
    entry = JUDGE0_LANGUAGES[request.language_id]
    language = entry.language
    if language.main_file_from_source is None:
        return entry.source_file
    return language.main_file(request.source_code.decode("utf-8", errors="replace"))


def submission_sandbox_job(settings: Settings, submission: Submission) -> SandboxJob:
    """A stored submission as the sandbox runs it. PoisonJob: it can never run here."""
    request = submission.request
    entry = JUDGE0_LANGUAGES.get(request.language_id)
    if entry is None or entry.runtime not in settings.supported_languages:
        raise PoisonJob(f"language with id {request.language_id} is not served by this worker")
    language = entry.language
    main_file = submission_main_file(request)
    try:
        options = tuple(split_words(request.compiler_options or ""))
        args = tuple(split_words(request.command_line_arguments or ""))
        extracted = (
            extract_zip(
                request.additional_files,
                max_total_bytes=settings.judge0.max_extract_size * KB,
            )
            if request.additional_files
            else []
        )
    except ValueError as exc:
        raise PoisonJob(str(exc)) from None
    # As Judge0's `unzip -n`: an archive never replaces the source file.
    files = (
        SandboxFile(main_file, language.source_prefix + request.source_code),
        *(
            SandboxFile(item.name, item.content, item.executable)
            for item in extracted
            if item.name != main_file
        ),
    )
    return SandboxJob(
        job_id=submission.token,
        spec=sandbox_spec(settings, language),
        files=files,
        run_argv=language.run_argv(main_file, args, [file.name for file in files]),
        limits=submission_limits(settings, request),
        stdin=request.stdin or b"",
        merge_output=request.redirect_stderr_to_stdout,
        compile=_compile_step(settings, language, files, options, merge_output=True),
    )


def submission_limits(settings: Settings, request: SubmissionRequest) -> RunLimits:
    """Judge0's limits as the launcher enforces them; 0 means "no limit of its own" as in
    isolate, and nothing goes above the operator's caps."""
    output_cap = settings.output_max_bytes
    file_size = request.max_file_size * KB if request.max_file_size else None
    return RunLimits(
        wall_time_s=min(request.wall_time_limit, settings.job_timeout_s),
        output_max_bytes=min(file_size, output_cap) if file_size is not None else output_cap,
        cpu_time_s=request.cpu_time_limit or None,
        cpu_extra_s=request.cpu_extra_time,
        memory_bytes=min(request.memory_limit * KB, settings.job_memory_bytes),
        per_process_memory=request.enable_per_process_and_thread_memory_limit,
        stack_bytes=request.stack_limit * KB if request.stack_limit else None,
        max_tasks=request.max_processes_and_or_threads,
        file_size_bytes=file_size,
    )


def submission_worst_case_s(settings: Settings, request: SubmissionRequest) -> float:
    """The longest a submission's runs can take once a worker has it (boots not counted): each
    run, in its own fresh sandbox, may compile again (the compile cache may not keep it)."""
    run_s = min(request.wall_time_limit, settings.job_timeout_s)
    entry = JUDGE0_LANGUAGES.get(request.language_id)
    compile_s = (
        compile_timeout_s(settings, entry.language)
        if entry is not None and entry.language.compile is not None
        else 0.0
    )
    return request.number_of_runs * (compile_s + run_s)
