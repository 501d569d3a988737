import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any

from runakode.archives import ArchiveError, extract_zip
from runakode.argv import split_words
from runakode.config import Settings
from runakode.judge0.languages import JUDGE0_LANGUAGES, Judge0Language
from runakode.judge0.limits import (
    MIN_MEMORY_LIMIT_KB,
    MIN_WALL_TIME_LIMIT_S,
    Judge0Limits,
    judge0_limits,
)
from runakode.judge0.serialization import decode_base64_lenient
from runakode.submissions.callbacks import callback_url_problem
from runakode.submissions.record import SubmissionRequest

MAX_OPTIONS_CHARS = 512
BLANK = "can't be blank"
NOT_A_NUMBER = "is not a number"
CANNOT_BE_ENABLED = "this option cannot be enabled"
UNENCODABLE = "cannot be encoded as UTF-8 (it contains a lone surrogate)"
NOT_A_URL = "is not a valid URL"

Errors = dict[str, list[str]]
Scalar = str | int | float | None

# Rails 5.2's ActiveModel::Type::Boolean::FALSE_VALUES; everything else non-empty is true.
_RUBY_FALSE_STRINGS = frozenset(("0", "f", "F", "false", "FALSE", "off", "OFF"))
_RUBY_SPACE = " \t\n\v\f\r"
# What Kernel#Float accepts (Rails' numericality check), minus hex, which Rails refuses.
_RUBY_FLOAT = re.compile(
    r"[ \t\n\v\f\r]*[+-]?(?:[0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?|\.[0-9]+(?:_[0-9]+)*)"
    r"(?:[eE][+-]?[0-9]+(?:_[0-9]+)*)?[ \t\n\v\f\r]*"
)
_RUBY_TO_I = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+(?:_[0-9]+)*)")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Python refuses to parse longer digit strings into an int; they are out of range anyway.
_MAX_INT_DIGITS = 4000


@dataclass(frozen=True)
class _Bound:
    value: int | float
    inclusive: bool

    def message(self, lower: bool) -> str:
        relation = "greater than" if lower else "less than"
        suffix = " or equal to" if self.inclusive else ""
        return f"must be {relation}{suffix} {_ruby_number(self.value)}"

    def admits(self, number: int | float, lower: bool) -> bool:
        if lower:
            return number >= self.value if self.inclusive else number > self.value
        return number <= self.value if self.inclusive else number < self.value


@dataclass(frozen=True)
class _Numeric:
    name: str
    default: int | float
    lower: _Bound
    upper: _Bound
    integer: bool


def parse_submission(
    params: Mapping[str, Any],
    *,
    base64_encoded: bool,
    settings: Settings,
    unavailable: Collection[str] = (),
) -> SubmissionRequest | Errors:
    """A POST /submissions body checked as Judge0 v1.13.1's model checks it: the validated
    request with every default applied, or the 422 body, keyed by attribute in the order
    Rails adds the errors (app/models/submission.rb), each value a list of messages.

    Values arrive as Rails parameters would: only scalars count (others are dropped, as
    `permit` drops them), numbers may be numeric strings, booleans are cast as Rails casts them,
    and null or absent means the default (Ruby's `||=`: 0 stays 0 and is then validated).
    """
    limits = judge0_limits(settings)
    conf = settings.judge0
    raw = {key: _scalar(params.get(key)) for key in _PERMITTED}
    errors: Errors = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    source_code, source_ok = _program_text(raw["source_code"], base64_encoded)
    if not source_ok:
        add("source_code", UNENCODABLE)
    elif source_code is None or not source_code.strip():
        add("source_code", BLANK)

    language_id = _ruby_integer(raw["language_id"])
    if language_id is None:
        add("language_id", BLANK)

    rules = _numeric_rules(limits)
    numbers: dict[str, int | float] = {}
    for name, rule in rules.items():
        if name != "max_file_size":
            numbers[name] = _check_number(rule, raw[name], add)

    per_process_time = _ruby_bool(raw["enable_per_process_and_thread_time_limit"]) or False
    if per_process_time and not conf.allow_enable_per_process_and_thread_time_limit:
        add("enable_per_process_and_thread_time_limit", CANNOT_BE_ENABLED)
    per_process_memory = _ruby_bool(raw["enable_per_process_and_thread_memory_limit"]) or False
    if per_process_memory and not conf.allow_enable_per_process_and_thread_memory_limit:
        add("enable_per_process_and_thread_memory_limit", CANNOT_BE_ENABLED)

    # Rails checks max_file_size after the two flags.
    numbers["max_file_size"] = _check_number(rules["max_file_size"], raw["max_file_size"], add)

    compiler_options = _ruby_string(raw["compiler_options"])
    command_line_arguments = _ruby_string(raw["command_line_arguments"])
    too_long = f"is too long (maximum is {MAX_OPTIONS_CHARS} characters)"
    if compiler_options is not None and len(compiler_options) > MAX_OPTIONS_CHARS:
        add("compiler_options", too_long)
    if command_line_arguments is not None and len(command_line_arguments) > MAX_OPTIONS_CHARS:
        add("command_line_arguments", too_long)

    # Judge0's custom validations, in its order, each with ours for the same attribute after it.
    language = _served_language(language_id, settings)
    if language is None:
        shown = "" if language_id is None else str(language_id)
        add("language_id", f"language with id {shown} doesn't exist")
    elif language.runtime in unavailable:
        add(
            "language_id",
            f"language with id {language.id} is unavailable on this service "
            "(its sandbox image is not built)",
        )
        language = None

    if compiler_options is not None and compiler_options.strip():
        message = _compiler_options_refusal(language, settings)
        if message is None and "compiler_options" not in errors:
            message = _words_refusal(compiler_options)
        if message is not None:
            add("compiler_options", message)

    if command_line_arguments is not None and command_line_arguments.strip():
        if not conf.enable_command_line_arguments:
            add("command_line_arguments", "setting command line arguments is not allowed")
        elif "command_line_arguments" not in errors and (
            message := _words_refusal(command_line_arguments)
        ):
            add("command_line_arguments", message)

    callback_url = _ruby_string(raw["callback_url"])
    if callback_url is None or not callback_url.strip():
        callback_url = None
    elif message := _callback_refusal(callback_url, settings):
        add("callback_url", message)

    # Always base64, whatever base64_encoded says.
    additional_text = _ruby_string(raw["additional_files"])
    additional_files = decode_base64_lenient(additional_text) if additional_text else None
    if not additional_files or not additional_files.strip():
        additional_files = None
    elif message := _additional_files_refusal(additional_files, settings, limits):
        add("additional_files", message)

    # ALLOW_ENABLE_NETWORK is always false here: programs never get a network.
    if _ruby_bool(raw["enable_network"]):
        add("enable_network", "enabling network is not allowed")

    stdin, stdin_ok = _program_text(raw["stdin"], base64_encoded)
    if not stdin_ok:
        add("stdin", UNENCODABLE)
    expected_output, expected_ok = _program_text(raw["expected_output"], base64_encoded)
    if not expected_ok:
        add("expected_output", UNENCODABLE)

    if errors:
        return errors
    assert source_code is not None and language is not None
    redirect = _ruby_bool(raw["redirect_stderr_to_stdout"])
    return SubmissionRequest(
        source_code=source_code,
        language_id=language.id,
        stdin=stdin,
        expected_output=expected_output,
        number_of_runs=int(numbers["number_of_runs"]),
        cpu_time_limit=float(numbers["cpu_time_limit"]),
        cpu_extra_time=float(numbers["cpu_extra_time"]),
        wall_time_limit=float(numbers["wall_time_limit"]),
        memory_limit=int(numbers["memory_limit"]),
        stack_limit=int(numbers["stack_limit"]),
        max_processes_and_or_threads=int(numbers["max_processes_and_or_threads"]),
        enable_per_process_and_thread_time_limit=per_process_time,
        enable_per_process_and_thread_memory_limit=per_process_memory,
        max_file_size=int(numbers["max_file_size"]),
        compiler_options=compiler_options,
        command_line_arguments=command_line_arguments,
        redirect_stderr_to_stdout=conf.redirect_stderr_to_stdout if redirect is None else redirect,
        callback_url=callback_url,
        additional_files=additional_files,
        enable_network=False,
    )


# The attributes submissions_controller.rb permits (every other key is ignored) are exactly
# what a SubmissionRequest holds.
_PERMITTED = tuple(field.name for field in fields(SubmissionRequest))


def numeric_bounds(limits: Judge0Limits) -> dict[str, tuple[int | float, bool, int | float, bool]]:
    """Each numeric attribute's (lower bound, whether it is allowed, upper bound, integer):
    what the API's description says of them."""
    return {
        name: (rule.lower.value, rule.lower.inclusive, rule.upper.value, rule.integer)
        for name, rule in _numeric_rules(limits).items()
    }


def _numeric_rules(limits: Judge0Limits) -> dict[str, _Numeric]:
    """The numeric attributes in the order Rails validates them, with their bounds: the
    lower ones are Judge0's literals, the upper ones the configured (and capped) maxima."""
    lower_wall: int | float = limits.min_wall_time_limit
    if lower_wall == MIN_WALL_TIME_LIMIT_S:
        lower_wall = int(lower_wall)  # Judge0's literal 1, shown as "1" in its message
    rules = (
        _Numeric(
            "number_of_runs",
            limits.number_of_runs,
            _Bound(0, False),
            _Bound(limits.max_number_of_runs, True),
            True,
        ),
        _Numeric(
            "cpu_time_limit",
            limits.cpu_time_limit,
            _Bound(0, True),
            _Bound(float(limits.max_cpu_time_limit), True),
            False,
        ),
        _Numeric(
            "cpu_extra_time",
            limits.cpu_extra_time,
            _Bound(0, True),
            _Bound(float(limits.max_cpu_extra_time), True),
            False,
        ),
        _Numeric(
            "wall_time_limit",
            limits.wall_time_limit,
            _Bound(lower_wall, True),
            _Bound(float(limits.max_wall_time_limit), True),
            False,
        ),
        _Numeric(
            "memory_limit",
            limits.memory_limit,
            _Bound(MIN_MEMORY_LIMIT_KB, True),
            _Bound(limits.max_memory_limit, True),
            True,
        ),
        _Numeric(
            "stack_limit",
            limits.stack_limit,
            _Bound(0, True),
            _Bound(limits.max_stack_limit, True),
            True,
        ),
        _Numeric(
            "max_processes_and_or_threads",
            limits.max_processes_and_or_threads,
            _Bound(0, False),
            _Bound(limits.max_max_processes_and_or_threads, True),
            True,
        ),
        _Numeric(
            "max_file_size",
            limits.max_file_size,
            _Bound(0, True),
            _Bound(limits.max_max_file_size, True),
            True,
        ),
    )
    return {rule.name: rule for rule in rules}


def _scalar(value: Any) -> Scalar:
    # Rails' `permit` keeps scalars only; an array or object is as if absent.
    return value if isinstance(value, str | int | float) else None


def _ruby_string(value: Scalar) -> str | None:
    """A string column's cast: true is "t", false is "f", numbers as Ruby prints them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    return _ruby_number(value)


def _ruby_number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
    return text


def _ruby_bool(value: Scalar) -> bool | None:
    """Rails' boolean cast: "" and null are unset; false, 0 and the strings "0", "f", "F",
    "false", "FALSE", "off", "OFF" are false; anything else (even "False", "no", 0.0) true."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value not in _RUBY_FALSE_STRINGS
    return not (isinstance(value, int) and value == 0)


def _ruby_integer(value: Scalar) -> int | None:
    """An integer column's cast (language_id): blank is unset, true 1, false 0, a float
    truncated, a string by String#to_i (leading digits, else 0)."""
    if value is None or isinstance(value, bool | int):
        return None if value is None else int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if not value.strip():
        return None
    match = _RUBY_TO_I.match(value)
    if match is None:
        return 0
    digits = match.group(1).replace("_", "")
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else 0


def _parse_number(value: Scalar) -> tuple[bool, int | float | None]:
    """(is a number, the number or None for unset) as Rails' numericality check sees it."""
    if value is None:
        return True, None
    if isinstance(value, bool):
        # true casts to 1 but its raw value is no number; false casts to 0, which wins.
        return (False, None) if value else (True, 0)
    if isinstance(value, int):
        return True, value
    if isinstance(value, float):
        return (True, value) if math.isfinite(value) else (False, None)
    if not value.strip():
        return True, None
    if not _RUBY_FLOAT.fullmatch(value):
        return False, None
    text = value.strip(_RUBY_SPACE).replace("_", "")
    if _INTEGER.fullmatch(text) and len(text) <= _MAX_INT_DIGITS:
        return True, int(text)
    return True, float(text)


def _check_number(numeric: _Numeric, value: Scalar, add: Callable[[str, str], None]) -> int | float:
    is_number, number = _parse_number(value)
    if not is_number:
        add(numeric.name, NOT_A_NUMBER)
        return numeric.default
    if number is None:
        number = numeric.default
    if numeric.integer and isinstance(number, float) and math.isfinite(number):
        # An integer column keeps the integer part; checking that part (not the fraction, as
        # Rails does) means "0.5" runs is refused rather than stored as 0.
        number = int(number)
    if not numeric.lower.admits(number, lower=True):
        add(numeric.name, numeric.lower.message(lower=True))
    elif not numeric.upper.admits(number, lower=False):
        add(numeric.name, numeric.upper.message(lower=False))
    return number


def _program_text(value: Scalar, base64_encoded: bool) -> tuple[bytes | None, bool]:
    """(bytes, encodable) of source_code, stdin or expected_output."""
    text = _ruby_string(value)
    if text is None:
        return None, True
    if base64_encoded:
        return decode_base64_lenient(text), True
    try:
        return text.encode("utf-8"), True
    except UnicodeEncodeError:
        return None, False


def _served_language(language_id: int | None, settings: Settings) -> Judge0Language | None:
    entry = JUDGE0_LANGUAGES.get(language_id) if language_id is not None else None
    if entry is None or entry.runtime not in settings.supported_languages:
        return None
    return entry


def _compiler_options_refusal(language: Judge0Language | None, settings: Settings) -> str | None:
    conf = settings.judge0
    if not conf.enable_compiler_options:
        return "setting compiler options is not allowed"
    if language is None:
        return None
    if language.language.compile is None:
        return "setting compiler options is only allowed for compiled languages"
    allowed = [name.strip() for name in conf.allowed_languages_for_compile_options if name.strip()]
    if allowed and not any(language.name.startswith(f"{name} ") for name in allowed):
        names = allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} and {allowed[-1]}"
        return f"setting compiler options is only allowed for {names}"
    return None


def _words_refusal(text: str) -> str | None:
    try:
        text.encode("utf-8")
        split_words(text)
    except UnicodeEncodeError:
        return UNENCODABLE
    except ValueError as exc:
        return str(exc)
    return None


def _callback_refusal(url: str, settings: Settings) -> str | None:
    if not settings.callbacks.enabled:
        return "setting callback is not allowed"
    # Only the form here: whether the host may be called (SSRF) is checked when it is called.
    return None if callback_url_problem(url) is None else NOT_A_URL


def _additional_files_refusal(
    archive: bytes, settings: Settings, limits: Judge0Limits
) -> str | None:
    if not settings.judge0.enable_additional_files:
        return "setting additional files is not allowed"
    try:
        extract_zip(archive, max_total_bytes=limits.max_extract_size * 1024)
    except ArchiveError as exc:
        return exc.message
    return None
