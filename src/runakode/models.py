import time
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_FILES = 32
MAX_ARGS = 64


class Status(StrEnum):
    OK = "ok"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INTERNAL_ERROR = "internal_error"


def _unicode_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def check_file_name(name: str) -> str:
    """A relative path inside the work directory, nothing that could point elsewhere."""
    parts = name.split("/")
    if not name.strip():
        raise ValueError("a file name must not be empty")
    if "\0" in name:
        raise ValueError("a file name must not contain NUL")
    if name.startswith("/"):
        raise ValueError(f"file name {name!r} must be relative")
    if ".." in parts or any(part in ("", ".") for part in parts):
        raise ValueError(f"file name {name!r} must not contain '..', '.' or empty parts")
    if len(name) > 255:
        raise ValueError("a file name must be at most 255 characters")
    return name


class SourceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(examples=["helper.py"])
    content: str = Field(examples=["def greet():\n    return 'hi'\n"])

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_file_name(value)

    @field_validator("content")
    @classmethod
    def _text(cls, value: str) -> str:
        return _unicode_text(value)


class Limits(BaseModel):
    """Per-request limits: each may only lower the operator's configured maximum."""

    model_config = ConfigDict(extra="forbid", strict=True)

    timeout_s: float | None = Field(default=None, gt=0, examples=[2.5])
    memory_mb: int | None = Field(default=None, gt=0, examples=[256])
    output_max_bytes: int | None = Field(default=None, gt=0, examples=[65536])

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        # JSON has one number type: accept 2 as well as 2.5, but never true or "2".
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class ExecuteRequest(BaseModel):
    """The body of POST /api."""

    model_config = ConfigDict(extra="forbid", strict=True)

    language: str = Field(examples=["python"])
    source_code: str = Field(examples=['print("hello")'])
    stdin: str = Field(default="", examples=["some input\n"])
    args: list[str] = Field(default_factory=list, max_length=MAX_ARGS, examples=[["--verbose"]])
    files: list[SourceFile] = Field(default_factory=list, max_length=MAX_FILES)
    limits: Limits | None = None
    # When given, the result's verdict says whether stdout matched it (Judge0's rule: trailing
    # whitespace of each line and of the whole is ignored).
    expected_output: str | None = Field(default=None, examples=["hello world ['--loud'] 42\n"])

    @field_validator("language", "source_code")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _unicode_text(_not_blank(value))

    @field_validator("stdin")
    @classmethod
    def _stdin_text(cls, value: str) -> str:
        return _unicode_text(value)

    @field_validator("expected_output")
    @classmethod
    def _expected_text(cls, value: str | None) -> str | None:
        return _unicode_text(value) if value is not None else None

    @field_validator("args")
    @classmethod
    def _plain_args(cls, value: list[str]) -> list[str]:
        for arg in value:
            if "\0" in arg:
                raise ValueError("an argument must not contain NUL")
            _unicode_text(arg)
        return value

    @model_validator(mode="after")
    def _distinct_files(self) -> "ExecuteRequest":
        names = [file.name for file in self.files]
        if len(set(names)) != len(names):
            raise ValueError("files: two files have the same name")
        return self


class ExecuteCompatRequest(BaseModel):
    """The body of POST /execute, as clients of the system this one replaces send it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    language: str = Field(examples=["python3"])
    code: str = Field(examples=['print("hello")'])

    @field_validator("language", "code")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _unicode_text(_not_blank(value))


class JobFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    # Text, or the base64 of a binary file (Piston's base64 and hex files).
    content: str
    encoding: Literal["utf8", "base64"] = "utf8"


class Job(BaseModel):
    """What travels through the broker to a worker; limits are already resolved."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    language: str = Field(min_length=1, max_length=64)
    source_code: str = Field(min_length=1)
    stdin: str = ""
    args: list[str] = Field(default_factory=list)
    files: list[JobFile] = Field(default_factory=list)
    timeout_s: float | None = Field(default=None, gt=0)
    memory_bytes: int | None = Field(default=None, gt=0)
    output_max_bytes: int | None = Field(default=None, gt=0)
    # Piston's own limits: the program's CPU time and the compiler's wall time.
    cpu_time_s: float | None = Field(default=None, gt=0)
    compile_timeout_s: float | None = Field(default=None, gt=0)
    # stdout and stderr in one stream, in the order written, as a terminal shows them.
    merge_output: bool = False
    # A live session: stdin comes from the client while the program runs, not from `stdin`
    # alone (which is written first).
    interactive: bool = False
    expected_output: str | None = None
    submitted_at: float = Field(default_factory=time.time)
    request_id: str | None = Field(default=None, max_length=128)


class SubmissionTicket(BaseModel):
    """What travels through the broker for a stored submission: the row is the job."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=64)
    request_id: str | None = Field(default=None, max_length=128)
    submitted_at: float = Field(default_factory=time.time)


class CompileResult(BaseModel):
    stdout: str
    stderr: str
    exit_code: int
    exec_time_ms: int
    timeout: bool = False


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"


class JobResult(BaseModel):
    """What a worker sends back, and what POST /api answers."""

    stdout: str
    stderr: str
    exit_code: int
    timeout: bool
    exec_time_ms: int
    status: Status
    # The program's own CPU time and peak memory (compile excluded), when it ran.
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    # Only with expected_output, and only for a program that ran to a normal end.
    verdict: Verdict | None = None
    truncated: bool = False
    language: str | None = None
    version: str | None = None
    compile: CompileResult | None = None

    @classmethod
    def internal_error(cls, message: str) -> "JobResult":
        return cls(
            stdout="",
            stderr=message,
            exit_code=-1,
            timeout=False,
            exec_time_ms=0,
            status=Status.INTERNAL_ERROR,
        )


class LanguageInfo(BaseModel):
    name: str
    version: str | None
    aliases: list[str]
    # False while no worker has the language's sandbox image: its runs are refused.
    available: bool = True
