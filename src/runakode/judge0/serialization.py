import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.submissions.record import Submission

# Every column of Judge0 v1.13.1's submissions table but `id`, then `status` and `language`,
# in the serializer's order: responses list their keys in this order whatever was asked.
FIELDS: tuple[str, ...] = (
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "status",
    "language",
)
DEFAULT_FIELDS: tuple[str, ...] = (
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
)
ALL_FIELDS = "*"

_BASE64_NOISE = re.compile(rb"[^A-Za-z0-9+/=]+")
_PADDING_RUN = re.compile(rb"=+")


class InvalidFields(ValueError):
    """GET/POST ?fields= named attributes a submission does not have (Judge0: 400)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(f"invalid fields: [{', '.join(self.names)}]")


class NotUtf8(ValueError):
    """A text attribute is not valid UTF-8, so it cannot go out without base64_encoded=true."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"{field} is not valid UTF-8")


def requested_fields(param: str | None) -> list[str]:
    """The attributes ?fields= asks for, in the serializer's order.

    Judge0's rules: split on commas (Ruby drops trailing empty pieces, keeps others, so
    "a,,b" names an invalid field ""); any unknown name is an error; `*` means all; nothing
    valid left means the 8 default fields.
    """
    names = (param or "").split(",")
    while names and names[-1] == "":
        names.pop()
    invalid = [name for name in names if name != ALL_FIELDS and name not in FIELDS]
    if invalid:
        raise InvalidFields(invalid)
    if ALL_FIELDS in names:
        return list(FIELDS)
    wanted = set(names) or set(DEFAULT_FIELDS)
    return [name for name in FIELDS if name in wanted]


def render(
    submission: Submission, fields: Sequence[str], *, base64_encoded: bool
) -> dict[str, Any]:
    """A submission as Judge0's serializer renders it, with only `fields`, in FIELDS order.

    Without base64_encoded, text goes out as JSON strings when it is valid UTF-8 (Judge0 itself
    refuses any byte above 0x7f) and NotUtf8 is raised otherwise; only the fields asked for are
    looked at, as in Judge0.
    """
    wanted = set(fields)
    values = _values(submission)
    body: dict[str, Any] = {}
    for name in FIELDS:
        if name not in wanted:
            continue
        value = values[name]
        if name in _TEXT_FIELDS:
            value = _text(name, value, base64_encoded=base64_encoded)
        elif name == "message" and base64_encoded and value is not None:
            value = encode_base64(value.encode("utf-8"))
        elif name == "additional_files" and value is not None:
            # Always base64, whatever base64_encoded says (Judge0's serializer does the same).
            value = encode_base64(value)
        body[name] = value
    return body


# Bytes a program reads or writes: base64 or UTF-8 text on the way out.
_TEXT_FIELDS = frozenset(
    ("source_code", "stdin", "expected_output", "stdout", "stderr", "compile_output")
)


def _values(submission: Submission) -> dict[str, Any]:
    request, outcome = submission.request, submission.outcome
    language = JUDGE0_LANGUAGES.get(request.language_id)
    return {
        "source_code": request.source_code,
        "language_id": request.language_id,
        "stdin": request.stdin,
        "expected_output": request.expected_output,
        # Judge0 stores an empty output as null.
        "stdout": (outcome.stdout or None) if outcome else None,
        "status_id": int(submission.status),
        "created_at": format_timestamp(submission.created_at),
        "finished_at": (
            format_timestamp(submission.finished_at) if submission.finished_at is not None else None
        ),
        "time": format_decimal(outcome.time) if outcome and outcome.time is not None else None,
        "memory": outcome.memory if outcome else None,
        "stderr": (outcome.stderr or None) if outcome else None,
        "token": submission.token,
        "number_of_runs": request.number_of_runs,
        "cpu_time_limit": format_decimal(request.cpu_time_limit),
        "cpu_extra_time": format_decimal(request.cpu_extra_time),
        "wall_time_limit": format_decimal(request.wall_time_limit),
        "memory_limit": request.memory_limit,
        "stack_limit": request.stack_limit,
        "max_processes_and_or_threads": request.max_processes_and_or_threads,
        "enable_per_process_and_thread_time_limit": (
            request.enable_per_process_and_thread_time_limit
        ),
        "enable_per_process_and_thread_memory_limit": (
            request.enable_per_process_and_thread_memory_limit
        ),
        "max_file_size": request.max_file_size,
        "compile_output": (outcome.compile_output or None) if outcome else None,
        "exit_code": outcome.exit_code if outcome else None,
        "exit_signal": outcome.exit_signal if outcome else None,
        "message": outcome.message if outcome else None,
        "wall_time": (
            format_decimal(outcome.wall_time) if outcome and outcome.wall_time is not None else None
        ),
        "compiler_options": request.compiler_options,
        "command_line_arguments": request.command_line_arguments,
        "redirect_stderr_to_stdout": request.redirect_stderr_to_stdout,
        "callback_url": request.callback_url,
        "additional_files": request.additional_files,
        "enable_network": request.enable_network,
        "status": {"id": int(submission.status), "description": submission.status.description},
        "language": {"id": language.id, "name": language.name} if language else None,
    }


def _text(name: str, value: bytes | None, *, base64_encoded: bool) -> str | None:
    if value is None:
        return None
    if base64_encoded:
        return encode_base64(value)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise NotUtf8(name) from None


def format_decimal(value: float) -> str:
    """A Rails decimal column as JSON shows it: a string in positional notation with at least
    one digit after the point ("0.012", "5.0", "0.0000001"): the float's shortest round-trip
    digits (Python's repr), never an exponent."""
    text = format(Decimal(repr(float(value))), "f")
    if "." not in text:
        text += ".0"
    return "0.0" if text == "-0.0" else text


def format_timestamp(epoch_s: float) -> str:
    """UTC with milliseconds (truncated, as Rails does) and a Z: 2024-04-03T05:40:51.306Z."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def encode_base64(data: bytes) -> str:
    """Standard alphabet with padding and no line breaks (Ruby's encode64 adds a newline every
    60 characters; every client found strips them or never sees a difference)."""
    return base64.b64encode(data).decode("ascii")


def decode_base64_lenient(text: str) -> bytes:
    """Ruby's Base64.decode64: never fails. Characters outside the alphabet are skipped; an `=`
    where the third or fourth character of a group belongs ends the data (later text is
    ignored), one anywhere else is skipped; a final group of 2 or 3 characters gives 1 or 2
    bytes, a lone last character is dropped."""
    data = _PADDING_RUN.sub(b"=", _BASE64_NOISE.sub(b"", text.encode("utf-8", "surrogatepass")))
    kept: list[bytes] = []
    count = 0
    pieces = data.split(b"=")
    for index, piece in enumerate(pieces):
        kept.append(piece)
        count += len(piece)
        if index < len(pieces) - 1 and count % 4 in (2, 3):
            break
    alphabet = b"".join(kept)
    if len(alphabet) % 4 == 1:
        alphabet = alphabet[:-1]
    padding = -len(alphabet) % 4
    return base64.b64decode(alphabet + b"=" * padding)
