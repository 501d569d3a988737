import base64
import json
import math
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from runakode.sandboxes import hardening
from runakode.sandboxes.artifacts import ArtifactReceiver
from runakode.sandboxes.base import (
    CloseStdin,
    ProgramControl,
    SandboxJob,
    SandboxSpec,
    Signal,
    TimeLimit,
    WriteStdin,
)

HEADER = struct.Struct(">I")
FRAME = struct.Struct(">cI")
# The launcher shares the sandbox with the program, so everything it sends is untrusted:
# frames are bounded and a malformed stream simply ends parsing.
MAX_FRAME_BYTES = 1 << 20
MAX_REPORT_BYTES = 4096

RUN_STDOUT, RUN_STDERR = b"1", b"2"
COMPILE_STDOUT, COMPILE_STDERR = b"3", b"4"
COMPILE_DONE, RUN_DONE, LAUNCHER_ERROR, ACCEPTED = b"C", b"R", b"X", b"A"
# A successful compile's artifacts (when the job asks to collect them), before the run starts.
ARTIFACT_DATA, ARTIFACTS_DONE = b"F", b"M"
# Host to launcher, after the job, in a live session: stdin data, end of stdin, a signal.
STDIN_DATA, STDIN_END, SIGNAL = b"i", b"e", b"s"
# The launcher's stdin frames carry no token: only the host writes there.
MAX_STDIN_FRAME_BYTES = 64 << 10


TOKEN_BYTES = 16


def new_token() -> bytes:
    """A per-job secret that prefixes every frame: the program cannot forge the launcher."""
    return secrets.token_bytes(TOKEN_BYTES)


# RLIMIT_NPROC counts every task of the sandbox's user: the launcher (a single thread) and the
# spawn helper that forks the program are two of them. Measured under runsc, a limit of N + 1
# set on a program forked by the launcher itself left it exactly N processes and threads.
LAUNCHER_TASKS = 2
# The most max_tasks can give: the launcher caps the program's RLIMIT_NPROC at the sandbox's
# own hard limit, which an unprivileged process cannot raise.
MAX_TASKS = hardening.RLIMITS["nproc"] - LAUNCHER_TASKS
# The kernel's own RLIMIT_CPU: a backstop, one second past the point the launcher kills at.
CPU_RLIMIT_MARGIN_S = 1
# Past this, a usage figure in a report is garbage (no counter here comes near 2**53).
MAX_REPORTED = 1 << 53


def launcher_argv(spec: SandboxSpec, *, announce: bool) -> list[str]:
    """The sandbox's first process: the launcher, told what to start before its job comes."""
    argv = list(hardening.LAUNCHER_ARGV)
    if announce:
        argv.append("--announce")
    if spec.prestart is not None:
        prestart = {
            "argv": list(spec.prestart.argv),
            "main": spec.prestart.main_file,
            "prelude": base64.b64encode(spec.prestart.prelude).decode("ascii"),
        }
        argv.append("--prestart=" + json.dumps(prestart, separators=(",", ":")))
    return argv


def _run_phase(job: SandboxJob) -> dict[str, Any]:
    limits = job.limits
    rlimits: dict[str, int] = {}
    cpu_kill_s = None
    if limits.cpu_time_s is not None:
        cpu_kill_s = limits.cpu_time_s + limits.cpu_extra_s
        rlimits["CPU"] = math.ceil(cpu_kill_s) + CPU_RLIMIT_MARGIN_S
    memory_limit_kb = None
    if limits.memory_bytes is not None:
        if limits.per_process_memory:
            rlimits["AS"] = limits.memory_bytes
        else:
            memory_limit_kb = -(-limits.memory_bytes // 1024)
    if limits.stack_bytes is not None:
        rlimits["STACK"] = limits.stack_bytes
    if limits.max_tasks is not None:
        rlimits["NPROC"] = limits.max_tasks + LAUNCHER_TASKS
    if limits.file_size_bytes is not None:
        rlimits["FSIZE"] = limits.file_size_bytes
    return {
        "argv": list(job.run_argv),
        "timeout_s": limits.wall_time_s,
        "merge_output": job.merge_output,
        "cpu_time_limit_s": limits.cpu_time_s,
        "cpu_kill_s": cpu_kill_s,
        "memory_limit_kb": memory_limit_kb,
        "rlimits": rlimits,
    }


def encode_job(job: SandboxJob, token: bytes) -> bytes:
    header: dict[str, Any] = {
        "token": token.hex(),
        "files": [
            {
                "name": file.name,
                "content": base64.b64encode(file.content).decode("ascii"),
                "executable": file.executable,
            }
            for file in job.files
        ],
        "run": _run_phase(job),
        "stdin": base64.b64encode(job.stdin).decode("ascii"),
        "interactive": job.interactive,
        "output_max_bytes": job.limits.output_max_bytes,
        "warm": job.fits_prestart,
    }
    if job.compile is not None:
        header["compile"] = {
            "argv": list(job.compile.argv),
            "timeout_s": job.compile.timeout_s,
            "output_max_bytes": job.compile.output_max_bytes,
            "kill_on_output_limit": False,
            "merge_output": job.compile.merge_output,
        }
        if job.compile.artifacts and job.artifacts_max_bytes > 0:
            header["collect"] = {
                "patterns": list(job.compile.artifacts),
                "max_bytes": job.artifacts_max_bytes,
            }
    body = json.dumps(header).encode("utf-8")
    return HEADER.pack(len(body)) + body


def encode_control(control: ProgramControl) -> bytes:
    """One frame for the launcher's stdin in a live session (long stdin split in several)."""
    match control:
        case WriteStdin(data=data):
            return b"".join(
                FRAME.pack(STDIN_DATA, len(part)) + part
                for start in range(0, len(data), MAX_STDIN_FRAME_BYTES)
                if (part := data[start : start + MAX_STDIN_FRAME_BYTES])
            )
        case CloseStdin():
            return FRAME.pack(STDIN_END, 0)
        case Signal(number=number):
            payload = str(number).encode("ascii")
            return FRAME.pack(SIGNAL, len(payload)) + payload


def _int(value: object) -> int:
    # bool is an int to Python, never to the launcher; floats (NaN, 1e400) are not counts.
    if type(value) is not int or abs(value) > MAX_REPORTED:
        raise ValueError(f"not a bounded integer: {value!r}")
    return value


def _count(value: object) -> int | None:
    return None if value is None else max(0, _int(value))


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise ValueError(f"not a boolean: {value!r}")
    return value


@dataclass(frozen=True)
class PhaseReport:
    exit_code: int
    signal: int | None
    time_ms: int
    output_limit: bool
    truncated: bool
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    time_limit: TimeLimit | None = None
    memory_exceeded: bool = False
    prestarted: bool = False

    @property
    def timed_out(self) -> bool:
        return self.time_limit is not None

    @classmethod
    def parse(cls, payload: bytes) -> "PhaseReport | None":
        if len(payload) > MAX_REPORT_BYTES:
            return None
        try:
            data = json.loads(payload)
            signal = data.get("signal")
            # A version 1 launcher only said whether the wall clock ran out.
            if "time_limit" in data:
                raw = data["time_limit"]
                time_limit = None if raw is None else TimeLimit(raw)
            else:
                time_limit = TimeLimit.WALL if _bool(data["timed_out"]) else None
            return cls(
                exit_code=_int(data["exit_code"]),
                signal=None if signal is None else _int(signal),
                time_ms=max(0, _int(data["time_ms"])),
                output_limit=_bool(data["output_limit"]),
                truncated=_bool(data["truncated"]),
                cpu_time_ms=_count(data.get("cpu_time_ms")),
                memory_kb=_count(data.get("memory_kb")),
                time_limit=time_limit,
                memory_exceeded=_bool(data.get("memory_exceeded", False)),
                prestarted=_bool(data.get("prestarted", False)),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass
class CappedBuffer:
    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> bytes:
        """Keeps what fits; returns it."""
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        kept = chunk[: max(0, room)]
        self.data += kept
        return kept

    @property
    def full(self) -> bool:
        return len(self.data) >= self.limit

    def __bytes__(self) -> bytes:
        return bytes(self.data)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class LauncherOutput:
    """Reassembles the launcher's frames from the container's stdout, byte by byte as it arrives."""

    def __init__(
        self,
        token: bytes,
        output_max_bytes: int,
        compile_output_max_bytes: int,
        artifacts_max_bytes: int = 0,
    ) -> None:
        self._token = token
        self._frame_size = len(token) + FRAME.size
        self.stdout = CappedBuffer(output_max_bytes)
        self.stderr = CappedBuffer(output_max_bytes)
        self.compile_stdout = CappedBuffer(compile_output_max_bytes)
        self.compile_stderr = CappedBuffer(compile_output_max_bytes)
        self.compile_report: PhaseReport | None = None
        self.run_report: PhaseReport | None = None
        self.launcher_error: str | None = None
        self.artifacts = ArtifactReceiver(artifacts_max_bytes)
        self.accepted = False
        self.malformed = False
        self._pending = bytearray()
        self._buffers = {
            RUN_STDOUT: self.stdout,
            RUN_STDERR: self.stderr,
            COMPILE_STDOUT: self.compile_stdout,
            COMPILE_STDERR: self.compile_stderr,
        }

    @classmethod
    def for_job(cls, job: SandboxJob, token: bytes) -> "LauncherOutput":
        compile_max_bytes = job.compile.output_max_bytes if job.compile else 0
        collect = job.compile is not None and bool(job.compile.artifacts)
        artifacts_max_bytes = job.artifacts_max_bytes if collect else 0
        return cls(token, job.limits.output_max_bytes, compile_max_bytes, artifacts_max_bytes)

    @property
    def finished(self) -> bool:
        failed_compile = self.compile_report is not None and (
            self.compile_report.exit_code != 0 or self.compile_report.timed_out
        )
        return self.run_report is not None or failed_compile or self.launcher_error is not None

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """The frames `data` completes, as (kind, payload); an output frame's payload is the
        part kept within its stream's cap."""
        frames: list[tuple[bytes, bytes]] = []
        if self.malformed:
            return frames
        self._pending += data
        while len(self._pending) >= self._frame_size:
            if self._pending[: len(self._token)] != self._token:
                self.malformed = True
                break
            kind, size = FRAME.unpack_from(self._pending, len(self._token))
            if size > MAX_FRAME_BYTES:
                self.malformed = True
                break
            if len(self._pending) < self._frame_size + size:
                break
            payload = bytes(self._pending[self._frame_size : self._frame_size + size])
            del self._pending[: self._frame_size + size]
            kept = self._accept(kind, payload)
            if self.malformed:
                break
            frames.append((kind, kept))
        if self.malformed:
            self._pending.clear()
        return frames

    def _accept(self, kind: bytes, payload: bytes) -> bytes:
        if buffer := self._buffers.get(kind):
            if kind in (RUN_STDOUT, RUN_STDERR):
                self.artifacts.close()
            return buffer.add(payload)
        if kind == COMPILE_DONE and self.compile_report is None:
            self.compile_report = report = PhaseReport.parse(payload)
            if report is not None and report.exit_code == 0 and not report.timed_out:
                self.artifacts.start()
        elif kind == ARTIFACT_DATA and self.artifacts.open:
            self.artifacts.add(payload)
        elif kind == ARTIFACTS_DONE and self.artifacts.open:
            self.artifacts.finish(payload)
        elif kind == RUN_DONE and self.run_report is None:
            self.artifacts.close()
            self.run_report = PhaseReport.parse(payload)
        elif kind == ACCEPTED:
            self.accepted = True
        elif kind == LAUNCHER_ERROR:
            self.launcher_error = payload[:MAX_REPORT_BYTES].decode("utf-8", errors="replace")
        else:
            self.malformed = True
        return b""
