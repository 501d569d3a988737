import base64
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from runakode.sandboxes.base import SandboxJob

HEADER = struct.Struct(">I")
FRAME = struct.Struct(">cI")
# The launcher shares the sandbox with the program, so everything it sends is untrusted:
# frames are bounded and a malformed stream simply ends parsing.
MAX_FRAME_BYTES = 1 << 20
MAX_REPORT_BYTES = 4096

RUN_STDOUT, RUN_STDERR = b"1", b"2"
COMPILE_STDOUT, COMPILE_STDERR = b"3", b"4"
COMPILE_DONE, RUN_DONE, LAUNCHER_ERROR, ACCEPTED = b"C", b"R", b"X", b"A"


TOKEN_BYTES = 16


def new_token() -> bytes:
    """A per-job secret that prefixes every frame: the program cannot forge the launcher."""
    return secrets.token_bytes(TOKEN_BYTES)


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
        "run": {
            "argv": list(job.run_argv),
            "timeout_s": job.timeout_s,
            "merge_output": job.merge_output,
        },
        "stdin": base64.b64encode(job.stdin).decode("ascii"),
        "output_max_bytes": job.output_max_bytes,
    }
    if job.compile_argv:
        header["compile"] = {
            "argv": list(job.compile_argv),
            "timeout_s": job.compile_timeout_s,
            "output_max_bytes": job.compile_output_max_bytes,
            "kill_on_output_limit": False,
        }
    body = json.dumps(header).encode("utf-8")
    return HEADER.pack(len(body)) + body


@dataclass
class PhaseReport:
    exit_code: int
    signal: int | None
    time_ms: int
    timed_out: bool
    output_limit: bool
    truncated: bool

    @classmethod
    def parse(cls, payload: bytes) -> "PhaseReport | None":
        if len(payload) > MAX_REPORT_BYTES:
            return None
        try:
            data = json.loads(payload)
            signal = data.get("signal")
            return cls(
                exit_code=int(data["exit_code"]),
                signal=int(signal) if signal is not None else None,
                time_ms=max(0, int(data["time_ms"])),
                timed_out=bool(data["timed_out"]),
                output_limit=bool(data["output_limit"]),
                truncated=bool(data["truncated"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            return None


@dataclass
class CappedBuffer:
    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class LauncherOutput:
    """Reassembles the launcher's frames from the container's stdout, byte by byte as it arrives."""

    def __init__(
        self, output_max_bytes: int, token: bytes, compile_output_max_bytes: int = 64 << 10
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
        self.accepted = False
        self.malformed = False
        self._pending = bytearray()
        self._buffers = {
            RUN_STDOUT: self.stdout,
            RUN_STDERR: self.stderr,
            COMPILE_STDOUT: self.compile_stdout,
            COMPILE_STDERR: self.compile_stderr,
        }

    @property
    def finished(self) -> bool:
        failed_compile = self.compile_report is not None and (
            self.compile_report.exit_code != 0 or self.compile_report.timed_out
        )
        return self.run_report is not None or failed_compile or self.launcher_error is not None

    def feed(self, data: bytes) -> None:
        if self.malformed:
            return
        self._pending += data
        while len(self._pending) >= self._frame_size:
            if self._pending[: len(self._token)] != self._token:
                self.malformed = True
                self._pending.clear()
                return
            kind, size = FRAME.unpack_from(self._pending, len(self._token))
            if size > MAX_FRAME_BYTES:
                self.malformed = True
                self._pending.clear()
                return
            if len(self._pending) < self._frame_size + size:
                return
            payload = bytes(self._pending[self._frame_size : self._frame_size + size])
            del self._pending[: self._frame_size + size]
            self._accept(kind, payload)
            if self.malformed:
                self._pending.clear()
                return

    def _accept(self, kind: bytes, payload: bytes) -> None:
        if buffer := self._buffers.get(kind):
            buffer.add(payload)
        elif kind == COMPILE_DONE and self.compile_report is None:
            self.compile_report = PhaseReport.parse(payload)
        elif kind == RUN_DONE and self.run_report is None:
            self.run_report = PhaseReport.parse(payload)
        elif kind == ACCEPTED:
            self.accepted = True
        elif kind == LAUNCHER_ERROR:
            self.launcher_error = payload[:MAX_REPORT_BYTES].decode("utf-8", errors="replace")
        else:
            self.malformed = True
