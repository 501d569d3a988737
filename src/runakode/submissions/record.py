from dataclasses import dataclass, field
from enum import IntEnum


class Judge0Status(IntEnum):
    """Judge0 CE's statuses, ids 1-14: client SDKs map ids through an enum and fail on others."""

    IN_QUEUE = 1
    PROCESSING = 2
    ACCEPTED = 3
    WRONG_ANSWER = 4
    TIME_LIMIT_EXCEEDED = 5
    COMPILATION_ERROR = 6
    SIGSEGV = 7
    SIGXFSZ = 8
    SIGFPE = 9
    SIGABRT = 10
    NZEC = 11
    OTHER = 12
    INTERNAL_ERROR = 13
    EXEC_FORMAT_ERROR = 14

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def final(self) -> bool:
        return self not in (Judge0Status.IN_QUEUE, Judge0Status.PROCESSING)


_DESCRIPTIONS = {
    Judge0Status.IN_QUEUE: "In Queue",
    Judge0Status.PROCESSING: "Processing",
    Judge0Status.ACCEPTED: "Accepted",
    Judge0Status.WRONG_ANSWER: "Wrong Answer",
    Judge0Status.TIME_LIMIT_EXCEEDED: "Time Limit Exceeded",
    Judge0Status.COMPILATION_ERROR: "Compilation Error",
    Judge0Status.SIGSEGV: "Runtime Error (SIGSEGV)",
    Judge0Status.SIGXFSZ: "Runtime Error (SIGXFSZ)",
    Judge0Status.SIGFPE: "Runtime Error (SIGFPE)",
    Judge0Status.SIGABRT: "Runtime Error (SIGABRT)",
    Judge0Status.NZEC: "Runtime Error (NZEC)",
    Judge0Status.OTHER: "Runtime Error (Other)",
    Judge0Status.INTERNAL_ERROR: "Internal Error",
    Judge0Status.EXEC_FORMAT_ERROR: "Exec Format Error",
}


@dataclass(frozen=True)
class SubmissionRequest:
    """What a client asked for, validated, with every default applied.

    Text a program reads or writes is bytes: with base64_encoded=true it may be any bytes.
    Times are seconds, sizes KB, as in Judge0.
    """

    source_code: bytes
    language_id: int
    stdin: bytes | None = None
    expected_output: bytes | None = None
    number_of_runs: int = 1
    cpu_time_limit: float = 5.0
    cpu_extra_time: float = 1.0
    wall_time_limit: float = 10.0
    memory_limit: int = 128000
    stack_limit: int = 64000
    max_processes_and_or_threads: int = 60
    enable_per_process_and_thread_time_limit: bool = False
    enable_per_process_and_thread_memory_limit: bool = False
    max_file_size: int = 1024
    compiler_options: str | None = None
    command_line_arguments: str | None = None
    redirect_stderr_to_stdout: bool = False
    callback_url: str | None = None
    additional_files: bytes | None = None
    enable_network: bool = False


@dataclass(frozen=True)
class SubmissionOutcome:
    """What running a submission produced: everything Judge0 fills in when a job ends."""

    status: Judge0Status
    stdout: bytes | None = None
    stderr: bytes | None = None
    compile_output: bytes | None = None
    time: float | None = None
    wall_time: float | None = None
    memory: int | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    message: str | None = None

    @classmethod
    def internal_error(cls, message: str) -> "SubmissionOutcome":
        return cls(status=Judge0Status.INTERNAL_ERROR, message=message)


@dataclass(frozen=True)
class Submission:
    """One stored submission, as Judge0 shows it (created_at/finished_at in epoch seconds)."""

    token: str
    request: SubmissionRequest
    status: Judge0Status
    created_at: float
    finished_at: float | None = None
    outcome: SubmissionOutcome | None = field(default=None)
