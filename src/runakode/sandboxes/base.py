from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from runakode.models import Status

# Written by each image's recipe at build time, e.g. "Python 3.11.2".
VERSION_FILE = "/opt/runakode/version"
MAX_VERSION_CHARS = 200


@dataclass(frozen=True)
class SandboxFile:
    name: str
    content: bytes
    executable: bool = False


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox is booted with, before any job is known: its image and its ceiling."""

    image: str
    memory_bytes: int
    cpus: float


@dataclass(frozen=True)
class RunLimits:
    """The program's limits, enforced inside the sandbox by the launcher (None: only the
    sandbox's own ceiling applies)."""

    wall_time_s: float
    output_max_bytes: int
    # Over cpu_time_s is a time-out; the program is killed only at cpu_time_s + cpu_extra_s.
    cpu_time_s: float | None = None
    cpu_extra_s: float = 0.0
    # The peak memory of the program's processes together, or of each one when per_process.
    memory_bytes: int | None = None
    per_process_memory: bool = False
    stack_bytes: int | None = None
    # Processes and threads of the program together.
    max_tasks: int | None = None
    file_size_bytes: int | None = None


@dataclass(frozen=True)
class CompileStep:
    argv: tuple[str, ...]
    timeout_s: float
    output_max_bytes: int
    # stdout and stderr in one stream, as Judge0's compile_output.
    merge_output: bool = False


@dataclass(frozen=True)
class SandboxJob:
    """Everything a sandbox needs for one job, validated, every limit already resolved."""

    job_id: str
    spec: SandboxSpec
    files: tuple[SandboxFile, ...]
    run_argv: tuple[str, ...]
    limits: RunLimits
    stdin: bytes
    # stdout and stderr in one stream, in the order written, as a terminal shows them.
    merge_output: bool
    compile: CompileStep | None

    @property
    def deadline_s(self) -> float:
        """The longest the launcher may take once it has the job (not counting a boot)."""
        compile_s = self.compile.timeout_s if self.compile else 0.0
        return compile_s + self.limits.wall_time_s


class TimeLimit(StrEnum):
    WALL = "wall"
    CPU = "cpu"


@dataclass(frozen=True)
class PhaseResult:
    """How one process (compile or run) ended, and what it used."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    signal: int | None
    wall_time_ms: int
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    # Which time limit it ran over, if any.
    time_limit: TimeLimit | None = None
    memory_exceeded: bool = False
    output_limit: bool = False
    truncated: bool = False

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 or self.time_limit is not None


@dataclass(frozen=True)
class SandboxResult:
    """What a job did in its sandbox. `run` is None when the program never ran (it failed
    to compile, or the sandbox failed); `note` is the service's own word on an abnormal end."""

    status: Status
    compile: PhaseResult | None
    run: PhaseResult | None
    note: str | None = None

    @classmethod
    def internal_error(cls, note: str) -> "SandboxResult":
        return cls(Status.INTERNAL_ERROR, None, None, note)


class Sandbox(Protocol):
    async def start(self) -> None:
        """Check the engine is usable and remove sandboxes an earlier run of this worker left."""

    async def run(self, job: SandboxJob) -> SandboxResult:
        """Run one job in a fresh sandbox; a misbehaving program is a result, not an error."""

    async def health(self) -> str | None:
        """None when usable, otherwise a short reason."""

    async def image_version(self, image: str) -> str | None:
        """The language version an image records in VERSION_FILE, if it does."""

    async def close(self) -> None:
        """Remove every sandbox this process started."""
