import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from runakode.errors import SandboxError
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
class Prestart:
    """An interpreter the sandbox starts at boot, with the language's own command line for its
    usual main file; it waits for that file's content. A job whose command is exactly this one
    (and whose source suits the prelude) runs in it; any other starts cold."""

    argv: tuple[str, ...]
    main_file: str
    # Written ahead of the source (Ruby: a byte-order mark, so that it loads its gems first).
    prelude: bytes = b""

    def suits(self, source: bytes) -> bool:
        """Whether the source reads the same after the prelude as on its own."""
        if not self.prelude:
            return True
        # After a byte-order mark, Ruby reads neither a #! line's options nor a magic comment
        # that names another encoding: such a source starts cold.
        head = source.split(b"\n", 2)[:2]
        return not source.startswith((b"#!", b"\xef\xbb\xbf")) and not any(
            b"coding" in line for line in head
        )


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox is booted with, before any job is known: its image and its ceiling."""

    image: str
    memory_bytes: int
    cpus: float
    prestart: Prestart | None = None


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
    # Glob patterns (relative to the work directory) of what the compile produces that the
    # run needs: what a compile cache keeps.
    artifacts: tuple[str, ...] = ()


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
    # Stdin stays open while the program runs, fed by ProgramInput (`stdin` is written first).
    interactive: bool = False
    # Above 0: after a successful compile the launcher sends the compile's artifacts (up to
    # this many bytes, else none) as an Artifacts event, before the program starts.
    artifacts_max_bytes: int = 0

    @property
    def fits_prestart(self) -> bool:
        """Whether its sandbox's pre-started interpreter can run it: the same command, the same
        main file, and a source that reads the same after the prelude."""
        prestart = self.spec.prestart
        if prestart is None or self.compile is not None or self.merge_output:
            return False
        main = next((file for file in self.files if file.name == prestart.main_file), None)
        return self.run_argv == prestart.argv and main is not None and prestart.suits(main.content)

    @property
    def deadline_s(self) -> float:
        """The longest the launcher may take once it has the job (not counting a boot)."""
        compile_s = self.compile.timeout_s if self.compile else 0.0
        return compile_s + self.limits.wall_time_s


class TimeLimit(StrEnum):
    WALL = "wall"
    CPU = "cpu"


class Phase(StrEnum):
    COMPILE = "compile"
    RUN = "run"


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


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
    # The stream that went over the output cap, when output_limit.
    flooded: Stream | None = None
    # It ran in an interpreter started before its job came (Prestart).
    prestarted: bool = False

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


@dataclass(frozen=True)
class PhaseStarted:
    phase: Phase


@dataclass(frozen=True)
class Output:
    """A chunk the program wrote (within its output cap), in the order it was written."""

    phase: Phase
    stream: Stream
    data: bytes


@dataclass(frozen=True)
class PhaseEnded:
    phase: Phase
    result: PhaseResult
    # The service's own word on an abnormal end.
    note: str | None = None


@dataclass(frozen=True)
class Finished:
    """Always the last event: the whole job."""

    result: SandboxResult


@dataclass(frozen=True)
class Artifacts:
    """What a successful compile produced for the run (CompileStep.artifacts), taken before the
    program started: for the host's compile cache, never for clients."""

    files: tuple[SandboxFile, ...]


SandboxEvent = PhaseStarted | Output | PhaseEnded | Artifacts | Finished


@dataclass(frozen=True)
class WriteStdin:
    data: bytes


@dataclass(frozen=True)
class CloseStdin:
    pass


@dataclass(frozen=True)
class Signal:
    number: int


ProgramControl = WriteStdin | CloseStdin | Signal
# What a live session's client sends the running program; bounded, so a client that types
# faster than the program reads waits instead of filling the worker's memory.
ProgramInput = asyncio.Queue[ProgramControl]
PROGRAM_INPUT_ITEMS = 64


def program_input() -> ProgramInput:
    return asyncio.Queue(maxsize=PROGRAM_INPUT_ITEMS)


async def final_result(events: AsyncGenerator[SandboxEvent, None]) -> SandboxResult:
    """A job's stream of events consumed to its result (the batch answer); the stream is
    closed either way. SandboxError when it ends without one."""
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, Finished):
                return event.result
    raise SandboxError("a sandbox's events ended without a result")


async def complete(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a clean-up to its end even while the caller is being cancelled (its caller re-raises
    what interrupted it): shielded only, it could outlive the boot it cleans up after, and be
    cut off when the process ends."""
    task = asyncio.ensure_future(cleanup)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


class BootsUnderWay:
    """A backend's boots in progress: close() waits for them, and none starts once closing, so
    that no sandbox is created behind the back of a backend that has removed its own."""

    def __init__(self) -> None:
        self.closing = False
        self._count = 0
        self._none = asyncio.Event()
        self._none.set()

    @contextlib.asynccontextmanager
    async def boot(self) -> AsyncIterator[None]:
        """SandboxError once closing."""
        if self.closing:
            raise SandboxError("the sandbox engine is closing")
        self._count += 1
        self._none.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._none.set()

    async def close(self, timeout_s: float) -> None:
        self.closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._none.wait()


@dataclass(frozen=True)
class SandboxHandle:
    """A booted sandbox whose launcher waits for its one job."""

    id: str
    spec: SandboxSpec


class SandboxBackend(Protocol):
    """What the pool drives: an engine that boots gVisor sandboxes, one job each."""

    async def start(self) -> None:
        """Check the engine is usable (SandboxError if not), note which images are missing
        (their languages are unavailable, the others still serve) and remove what dead workers
        left."""

    def image_present(self, image: str) -> bool:
        """Whether the image was there at start: sandboxes of a missing one never boot."""
        ...

    async def prepare(self, spec: SandboxSpec) -> SandboxHandle:
        """Boot a sandbox that waits for its job; SandboxError if it does not boot."""
        ...

    def execute(
        self, handle: SandboxHandle, job: SandboxJob, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        """Hand the job over and stream what it does, ending with Finished. Raises
        SandboxUnavailable (before any event) when the sandbox died before taking the job,
        SandboxError when the engine fails; a misbehaving program is a result, never an error.
        The sandbox is spent afterwards, whatever happened."""
        ...

    async def discard(self, handle: SandboxHandle) -> None:
        """Kill and remove the sandbox; never raises (a failure is logged, then swept)."""

    async def remove_orphans(self) -> int:
        """Remove the sandboxes of this host's dead workers; how many went."""
        ...

    async def health(self) -> str | None:
        """None when usable, otherwise a short reason."""

    async def image_version(self, image: str) -> str | None:
        """The language version an image records in VERSION_FILE, if it does."""

    async def close(self) -> None:
        """Remove every sandbox this process started."""


class Sandboxes(Protocol):
    """What the worker uses: the pool, which boots sandboxes ahead and serves one job each."""

    async def start(self) -> None: ...

    def stream(
        self, job: SandboxJob, controls: ProgramInput | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        """The job's events in a fresh sandbox, ending with Finished; SandboxError if the
        engine fails."""
        ...

    async def run(self, job: SandboxJob) -> SandboxResult:
        """The job's result: its stream, consumed."""
        ...

    async def health(self) -> str | None: ...

    def image_present(self, image: str) -> bool: ...

    async def image_version(self, image: str) -> str | None: ...

    async def close(self) -> None: ...
