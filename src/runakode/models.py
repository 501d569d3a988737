import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Status(StrEnum):
    OK = "ok"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INTERNAL_ERROR = "internal_error"


class ExecuteRequest(BaseModel):
    """The body of POST /api."""

    model_config = ConfigDict(extra="forbid", strict=True)

    language: str = Field(examples=["python"])
    source_code: str = Field(examples=['print("hello")'])

    @field_validator("language", "source_code")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
        return value


class Job(BaseModel):
    """What travels through the broker to a worker."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    language: str = Field(min_length=1, max_length=64)
    source_code: str = Field(min_length=1)
    submitted_at: float = Field(default_factory=time.time)
    request_id: str | None = Field(default=None, max_length=128)


class JobResult(BaseModel):
    """What a worker sends back, and what POST /api answers."""

    stdout: str
    stderr: str
    exit_code: int
    timeout: bool
    exec_time_ms: int
    status: Status
    truncated: bool = False

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
