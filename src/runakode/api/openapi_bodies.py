"""What each route's request body may hold, as the server checks it: names of the languages it
serves, non-blank programs, safe file names, the limits it enforces. The routes parse their
bodies themselves (for errors in each family's own words), so FastAPI cannot see these."""

from typing import Any

from runakode.config import MIN_MEMORY_BYTES, Settings
from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.judge0.limits import judge0_limits
from runakode.judge0.validation import MAX_OPTIONS_CHARS, numeric_bounds
from runakode.languages import ALIASES, LANGUAGES
from runakode.piston.legacy import V1_NAMES
from runakode.piston.runtimes import PISTON_NAMES
from runakode.piston.validation import limit_maxima

# Some character that is not white space (Python's str.strip() decides what is blank).
NOT_BLANK = r"\S"
# check_file_name: relative, no NUL, no "", "." or ".." part, at most 255 characters. Written
# without `.` and `$` (which stop at or before a newline in Python's re).
SAFE_FILE_NAME = (
    r"^(?=[\s\S]*\S)(?!/)(?![\s\S]*//)(?![\s\S]*/(?![\s\S]))"
    r"(?!([\s\S]*/)?\.{1,2}(/|(?![\s\S])))[^\x00]{1,255}(?![\s\S])"
)
NO_NUL = r"^[^\x00]*(?![\s\S])"
# split_words: words as a POSIX shell splits them, so every quote closed and no backslash last;
# no NUL.
SHELL_WORDS = r"^(?:[^'\"\\\x00]|\\[^\x00]|'[^'\x00]*'|\"(?:[^\"\\\x00]|\\[^\x00])*\")*(?![\s\S])"


def served_names(settings: Settings) -> list[str]:
    """Every name a request may use for a served language: its own and its aliases."""
    served = set(settings.supported_languages)
    names = set(served) | {alias for alias, name in ALIASES.items() if name in served}
    return sorted(names)


def native_run_body(settings: Settings, schema: dict[str, Any]) -> None:
    """POST /api (ExecuteRequest)."""
    properties = schema["properties"]
    properties["language"] = {"type": "string", "enum": served_names(settings)}
    properties["source_code"] |= {"pattern": NOT_BLANK}
    properties["args"]["items"] = {"type": "string", "pattern": NO_NUL}


def native_file(schema: dict[str, Any]) -> None:
    """SourceFile: a file beside the main one."""
    schema["properties"]["name"] |= {"pattern": SAFE_FILE_NAME}


def native_limits(settings: Settings, schema: dict[str, Any]) -> None:
    """Limits: each at most the operator's."""
    properties = schema.get("properties") or {}
    maxima = {
        "timeout_s": settings.job_timeout_s,
        "memory_mb": settings.job_memory_bytes / (1 << 20),
        "output_max_bytes": settings.output_max_bytes,
    }
    for name, maximum in maxima.items():
        if name not in properties:
            continue
        for choice in properties[name].get("anyOf", [properties[name]]):
            if choice.get("type") in ("number", "integer"):
                choice["maximum"] = maximum
                if name == "memory_mb":
                    choice.pop("exclusiveMinimum", None)
                    choice["minimum"] = MIN_MEMORY_BYTES >> 20


def native_compat_body(settings: Settings, schema: dict[str, Any]) -> None:
    """POST /execute (ExecuteCompatRequest)."""
    schema["properties"]["language"] = {"type": "string", "enum": served_names(settings)}
    schema["properties"]["code"] |= {"pattern": NOT_BLANK}


def judge0_submission(settings: Settings) -> dict[str, Any]:
    """A submission as Judge0 v1.13.1's model takes it (plain text: base64_encoded=false)."""
    served = set(settings.supported_languages)
    ids = sorted(entry.id for entry in JUDGE0_LANGUAGES.values() if entry.runtime in served)
    limits = judge0_limits(settings)
    conf = settings.judge0
    properties: dict[str, Any] = {
        "source_code": {"type": "string", "pattern": NOT_BLANK},
        "language_id": {"type": "integer", "enum": ids},
        "stdin": {"type": ["string", "null"]},
        "expected_output": {"type": ["string", "null"]},
        "redirect_stderr_to_stdout": {"type": ["boolean", "null"]},
        "enable_per_process_and_thread_time_limit": _flag(
            conf.allow_enable_per_process_and_thread_time_limit
        ),
        "enable_per_process_and_thread_memory_limit": _flag(
            conf.allow_enable_per_process_and_thread_memory_limit
        ),
        # Programs never get a network here.
        "enable_network": {"type": ["boolean", "null"], "enum": [False, None]},
        "compiler_options": {
            "type": ["string", "null"],
            "maxLength": MAX_OPTIONS_CHARS,
            "pattern": SHELL_WORDS,
            "description": "Options for the compiler (compiled languages only)",
        },
        "command_line_arguments": {
            "type": ["string", "null"],
            "maxLength": MAX_OPTIONS_CHARS,
            "pattern": SHELL_WORDS,
            "description": "The program's arguments, split as a shell would",
        },
    }
    if settings.callbacks.enabled:
        properties["callback_url"] = {
            "type": ["string", "null"],
            "format": "uri",
            "pattern": "^https?://",
            "description": "PUT with the submission when it ends (public addresses only, "
            "unless callbacks.allowedNetworks lists them)",
        }
    for name, (lower, lower_inclusive, upper, integer) in numeric_bounds(limits).items():
        bound: dict[str, Any] = {"type": ["integer" if integer else "number", "null"]}
        bound["minimum" if lower_inclusive else "exclusiveMinimum"] = lower
        bound["maximum"] = upper
        properties[name] = bound
    interpreted = sorted(
        entry.id
        for entry in JUDGE0_LANGUAGES.values()
        if entry.runtime in served and LANGUAGES[entry.runtime].compile is None
    )
    return {
        "type": "object",
        # Not in `properties`: a schema cannot say "a valid zip", which the server checks.
        "description": "Also `additional_files`: the base64 of a zip archive whose files are "
        "unpacked beside the program (a 422 when it is not a valid zip).",
        "properties": properties,
        "required": ["source_code", "language_id"],
        # Compiler options only for a language that compiles.
        "if": {"properties": {"language_id": {"enum": interpreted}}},
        "then": {
            "properties": {"compiler_options": {"type": ["string", "null"], "pattern": r"^\s*$"}}
        },
    }


def _flag(allowed: bool) -> dict[str, Any]:
    if allowed:
        return {"type": ["boolean", "null"]}
    return {"type": ["boolean", "null"], "enum": [False, None]}


def judge0_batch(settings: Settings) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "submissions": {
                "type": "array",
                "items": judge0_submission(settings),
                "minItems": 1,
                "maxItems": settings.judge0.max_submission_batch_size,
            }
        },
        "required": ["submissions"],
    }


def piston_execute(settings: Settings) -> dict[str, Any]:
    """Piston's execute body (JSON; form-encoded bodies carry the same fields)."""
    served = set(settings.supported_languages)
    names = sorted(
        {name.language for ours, name in PISTON_NAMES.items() if ours in served}
        | {alias for ours, name in PISTON_NAMES.items() if ours in served for alias in name.aliases}
    )
    maxima = limit_maxima(settings)
    body: dict[str, Any] = {
        "type": "object",
        "properties": {
            "language": {"type": "string", "enum": names},
            "version": {
                "type": "string",
                "description": "A version or a semver range (`*`: the newest)",
                "enum": ["*"],
            },
            "files": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "pattern": SAFE_FILE_NAME},
                        "content": {"type": "string"},
                        "encoding": {"type": "string", "enum": ["utf8"]},
                    },
                    "required": ["content"],
                },
                "description": "The first utf8 file is the program; base64 and hex files are "
                "accepted too (`encoding`)",
            },
            "stdin": {"type": "string"},
            "args": {"type": "array", "items": {"type": "string", "pattern": NO_NUL}},
            "compile_timeout": {
                "type": "number",
                "minimum": -1,
                "maximum": maxima["compile_timeout"],
            },
            "compile_cpu_time": {
                "type": "number",
                "minimum": -1,
                "maximum": maxima["compile_cpu_time"],
            },
            "compile_memory_limit": {
                "type": "number",
                "minimum": -1,
                "maximum": maxima["compile_memory_limit"],
            },
            "run_memory_limit": {
                "type": "number",
                "minimum": -1,
                "maximum": maxima["run_memory_limit"],
            },
        },
        # piston-client leaves the version out when it names a language by an alias.
        "required": ["language", "files"],
    }
    for name, maximum in maxima.items():
        # -1, 0 or nothing: the default.
        body["properties"][name] = {
            "anyOf": [
                {"type": "null"},
                {"const": -1},
                {"type": "number", "minimum": 0, "maximum": maximum},
            ]
        }
    return body


def piston_v1_execute(settings: Settings) -> dict[str, Any]:
    """emkc.org's v1 execute body."""
    served = set(settings.supported_languages)
    names = sorted(
        {name for ours, (_, accepted) in V1_NAMES.items() if ours in served for name in accepted}
    )
    return {
        "type": "object",
        "properties": {
            "language": {"type": "string", "enum": names},
            "source": {"type": "string", "minLength": 1},
            "stdin": {"type": "string"},
            "args": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["language", "source"],
    }
