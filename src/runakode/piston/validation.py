"""Piston's execute request (`api/src/api/v2.js` get_job, `api/src/job.js`) as one of our jobs:
checked in Piston's order, each problem a BadRequest with Piston's text."""

import base64
import binascii
import math
import posixpath
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runakode.config import MIN_MEMORY_BYTES, Settings
from runakode.errors import BadRequest
from runakode.languages import LANGUAGES
from runakode.models import Job, JobFile, check_file_name
from runakode.piston.runtimes import PistonRuntime, find_runtime

# Piston's own default limits (api/src/config.js), in ms. Its clients send them unasked
# (piston-client: compile_timeout 10000, run_timeout 3000), so they are always accepted, and
# run within this service's limits when those are lower.
PISTON_DEFAULT_MS = {"compile": 10_000, "run": 3_000}
ENCODINGS = ("base64", "hex", "utf8")


@dataclass(frozen=True)
class PistonJob:
    runtime: PistonRuntime
    job: Job


@dataclass(frozen=True)
class _Limit:
    name: str
    # This service's limit, in the request's unit (ms or bytes).
    configured: int
    # Values up to this are accepted (and lowered to `configured`).
    tolerated: int


def parse_execute(
    settings: Settings,
    body: Mapping[str, Any],
    runtimes: list[PistonRuntime],
    *,
    request_id: str | None,
    interactive: bool = False,
) -> PistonJob:
    """POST /api/v2/execute's body, or the WebSocket's init (interactive: its stdin is ignored,
    the client's data frames feed the program)."""
    language = body.get("language")
    if not language or not isinstance(language, str):
        raise BadRequest("language is required as a string")
    version = body.get("version")
    if version is None or version == "":
        # piston-client leaves the version out when called with an alias.
        version = "*"
    if not isinstance(version, str):
        raise BadRequest("version is required as a string")
    files = body.get("files")
    if not isinstance(files, list):
        raise BadRequest("files is required as an array")
    for index, file in enumerate(files):
        if not isinstance(file, Mapping) or not isinstance(file.get("content"), str):
            raise BadRequest(f"files[{index}].content is required as a string")
    runtime = find_runtime(runtimes, language, version)
    if runtime is None:
        raise BadRequest(f"{language}-{version} runtime is unknown")
    if not any(not file.get("encoding") or file.get("encoding") == "utf8" for file in files):
        raise BadRequest("files must include at least one utf8 encoded file")
    limits = _limits(settings, body)
    stdin = body.get("stdin")
    stdin = "" if stdin is None else stdin
    if not isinstance(stdin, str):
        raise BadRequest("stdin must be a string")
    args = body.get("args")
    args = [] if args is None else args
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise BadRequest("args must be an array of strings")
    for arg in args:
        if "\0" in arg:
            raise BadRequest("args must not contain NUL characters")
        _text(arg, "args")
    if interactive:
        stdin = ""
    else:
        _text(stdin, "stdin")
        # As Piston: the program's input always ends with a newline.
        if not stdin.endswith("\n"):
            stdin += "\n"
    source, extra = _files(runtime, files)
    timeout = limits.get("run_timeout")
    cpu_time = limits.get("run_cpu_time")
    compile_timeout = limits.get("compile_timeout")
    memory = limits.get("run_memory_limit")
    job = Job(
        id=uuid.uuid4().hex,
        language=runtime.ours,
        source_code=source,
        stdin=stdin,
        args=args,
        files=extra,
        timeout_s=timeout / 1000 if timeout else None,
        cpu_time_s=cpu_time / 1000 if cpu_time else None,
        # Piston's default, which its clients send unasked, leaves the toolchain its own
        # deadline (Kotlin or Scala need more than 10 s in a sandbox).
        compile_timeout_s=(
            compile_timeout / 1000
            if compile_timeout and compile_timeout != PISTON_DEFAULT_MS["compile"]
            else None
        ),
        memory_bytes=int(max(memory, MIN_MEMORY_BYTES)) if memory else None,
        interactive=interactive,
        request_id=request_id,
    )
    return PistonJob(runtime, job)


def _configured(settings: Settings) -> list[_Limit]:
    """Piston's six limits in the order it checks them, against this service's."""
    compile_ms = round(settings.compile_timeout_s * 1000)
    run_ms = round(settings.job_timeout_s * 1000)
    memory = settings.job_memory_bytes
    return [
        _Limit("compile_memory_limit", memory, memory),
        _Limit("run_memory_limit", memory, memory),
        _Limit("compile_timeout", compile_ms, max(compile_ms, PISTON_DEFAULT_MS["compile"])),
        _Limit("run_timeout", run_ms, max(run_ms, PISTON_DEFAULT_MS["run"])),
        _Limit("compile_cpu_time", compile_ms, max(compile_ms, PISTON_DEFAULT_MS["compile"])),
        _Limit("run_cpu_time", run_ms, max(run_ms, PISTON_DEFAULT_MS["run"])),
    ]


def limit_maxima(settings: Settings) -> dict[str, float]:
    """The most each limit field may ask for (what the API's description says of them)."""
    return {limit.name: limit.tolerated for limit in _configured(settings)}


def _limits(settings: Settings, body: Mapping[str, Any]) -> dict[str, float]:
    """The limits the request sets, within this service's. Absent, 0 or -1: the default."""
    chosen: dict[str, float] = {}
    for limit in _configured(settings):
        value = body.get(limit.name)
        # What JavaScript calls false: Piston skips it.
        if value is None or value is False or value == "" or value == 0:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise BadRequest(f"If specified, {limit.name} must be a number")
        if value == -1:
            continue
        if value > limit.tolerated:
            raise BadRequest(
                f"{limit.name} cannot exceed the configured limit of {limit.configured}"
            )
        if value < 0:
            raise BadRequest(f"{limit.name} must be non-negative")
        chosen[limit.name] = min(value, limit.configured)
    return chosen


def _files(runtime: PistonRuntime, files: list[Mapping[str, Any]]) -> tuple[str, list[JobFile]]:
    """The entry point's source (the first utf8 file, written under our main file's name), and
    the other files under their own names."""
    entry: str | None = None
    others: dict[str, JobFile] = {}
    for index, file in enumerate(files):
        encoding = file.get("encoding")
        encoding = encoding if encoding in ENCODINGS else "utf8"
        content: str = file["content"]
        if encoding == "utf8":
            _text(content, f"files[{index}].content")
        # Piston writes every file under its name: the entry point's must be safe too.
        name = _file_name(index, file.get("name"))
        if entry is None and encoding == "utf8":
            entry = content
            continue
        if encoding == "utf8":
            others[name] = JobFile(name=name, content=content)
        else:
            others[name] = JobFile(
                name=name, content=_binary(index, content, encoding), encoding="base64"
            )
    assert entry is not None, "checked: at least one utf8 file"
    # An empty program is a valid one (it does nothing); a job's source is never empty.
    source = entry or "\n"
    main_file = LANGUAGES[runtime.ours].main_file(source)
    if main_file in others:
        raise BadRequest(
            f"a file named {main_file!r} would replace the entry point (the first utf8 file, "
            f"written as {main_file!r} here): give it another name"
        )
    return source, list(others.values())


def _file_name(index: int, name: object) -> str:
    """Piston's name (`file<i>.code` by default), as a path inside the work directory."""
    if not name:
        return f"file{index}.code"
    if not isinstance(name, str):
        raise BadRequest(f"files[{index}].name must be a string")
    # As Node's path.join and path.relative: a leading / stays inside, .. may climb out.
    relative = posixpath.relpath(posixpath.normpath(f"submission/{name}"), "submission")
    if relative == ".." or relative.startswith("../"):
        raise BadRequest(f'File path "{name}" tries to escape parent directory: {relative}')
    try:
        return check_file_name(relative)
    except ValueError as exc:
        raise BadRequest(f"files[{index}].name: {exc}") from None


def _binary(index: int, content: str, encoding: str) -> str:
    """A base64 or hex file's bytes, as canonical base64. Lenient as Node's Buffer about
    whitespace, padding and the URL-safe alphabet; a 400 for anything that is not the encoding."""
    compact = "".join(content.split())
    try:
        if encoding == "hex":
            data = bytes.fromhex(compact)
        else:
            standard = compact.replace("-", "+").replace("_", "/").rstrip("=")
            data = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise BadRequest(f"files[{index}].content is not valid {encoding}") from None
    return base64.b64encode(data).decode("ascii")


def _text(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{where} must be valid Unicode text (no lone surrogates)") from None
