from dataclasses import dataclass, field
from typing import Protocol

from runakode.models import JobResult

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
    """What a sandbox is booted with, before any job is known."""

    image: str
    memory_bytes: int
    cpus: float


@dataclass(frozen=True)
class SandboxJob:
    """Everything a sandbox needs for one job, already validated."""

    job_id: str
    image: str
    files: tuple[SandboxFile, ...]
    run_argv: tuple[str, ...]
    timeout_s: float
    compile_argv: tuple[str, ...] | None = None
    compile_timeout_s: float = 0.0
    stdin: bytes = b""
    output_max_bytes: int = 1 << 20
    memory_bytes: int = 1 << 30
    cpus: float = 1.0
    env: tuple[str, ...] = field(default=())
    compile_output_max_bytes: int = 64 << 10
    merge_output: bool = False

    @property
    def spec(self) -> SandboxSpec:
        return SandboxSpec(self.image, self.memory_bytes, self.cpus)


class Sandbox(Protocol):
    async def start(self) -> None:
        """Check the engine is usable and remove sandboxes an earlier run of this worker left."""

    async def run(self, job: SandboxJob) -> JobResult:
        """Run one job in a fresh sandbox; a misbehaving program is a result, not an error."""

    async def health(self) -> str | None:
        """None when usable, otherwise a short reason."""

    async def image_version(self, image: str) -> str | None:
        """The language version an image records in VERSION_FILE, if it does."""

    async def close(self) -> None:
        """Remove every sandbox this process started."""
