"""Compiled programs on the worker host's disk, shared by the worker processes of that host.

One file per entry, named by its key: written under a temporary name and renamed into place
(atomic, so a reader sees a whole entry or none), checked against its own digest when read (a
file cut short by a crash is a miss, never a program). A hit touches the file's mtime: eviction
removes entries unused for longer than the maximum age, then the least recently used ones while
the whole exceeds its size. Any process may evict; a reader holding a file open still reads it
whole after another process removed it.
"""

import base64
import contextlib
import hashlib
import json
import logging
import os
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runakode.sandboxes.base import PhaseResult, SandboxFile

log = logging.getLogger(__name__)

MAGIC = b"runakode-compiled 1\n"
HEADER = struct.Struct(">I")
MAX_HEADER_BYTES = 1 << 20
# Eviction also runs this often as entries are stored, for what other processes stored.
EVICT_INTERVAL_S = 60.0
# Eviction brings the total down to this share of the maximum, so it does not run at each store.
LOW_WATER = 0.9
# A temporary file this old was left by a writer that died.
STALE_TEMPORARY_S = 3600.0


@dataclass(frozen=True)
class CachedCompile:
    """A successful compile: what the clients saw of it, and the files the run needs."""

    compile: PhaseResult
    files: tuple[SandboxFile, ...]
    stored_at: float


class CompileStore:
    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._entries = directory / "entries"
        self._temporary = directory / "tmp"
        self._max_bytes = max_bytes
        self._max_age_s = max_age_s
        self._clock = clock
        # Bytes this process stored since it last measured the whole.
        self._stored_since_eviction = 0
        self._measured_bytes = 0
        self._evicted_at = float("-inf")

    def load(self, key: str) -> CachedCompile | None:
        """The entry, if there is a whole one younger than the maximum age (its use recorded)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        entry = _decode(data)
        if entry is None or self._clock() - entry.stored_at > self._max_age_s:
            if entry is None:
                log.warning("removing a damaged compile cache entry", extra={"key": key})
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(FileNotFoundError):
            self._touch(path)
        return entry

    def store(self, key: str, compiled: PhaseResult, files: tuple[SandboxFile, ...]) -> None:
        now = self._clock()
        data = _encode(CachedCompile(compiled, files, now))
        path = self._path(key)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._temporary.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._temporary / f"{os.getpid()}-{secrets.token_hex(8)}"
        try:
            temporary.write_bytes(data)
            self._touch(temporary)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._stored_since_eviction += len(data)
        due = now - self._evicted_at >= EVICT_INTERVAL_S
        if due or self._measured_bytes + self._stored_since_eviction > self._max_bytes:
            self.evict()

    def evict(self) -> None:
        """Removes the entries too old, then the least recently used while over the size."""
        now = self._clock()
        entries: list[tuple[float, int, Path]] = []
        for path in self._entries.glob("*/*"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            if now - info.st_mtime > self._max_age_s:
                path.unlink(missing_ok=True)
            else:
                entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        if total > self._max_bytes:
            entries.sort()
            for _, size, path in entries:
                if total <= self._max_bytes * LOW_WATER:
                    break
                path.unlink(missing_ok=True)
                total -= size
        for path in self._temporary.glob("*"):
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime > STALE_TEMPORARY_S:
                    path.unlink()
        self._measured_bytes, self._stored_since_eviction = total, 0
        self._evicted_at = now

    def _touch(self, path: Path) -> None:
        """Its mtime is its last use."""
        now = self._clock()
        os.utime(path, (now, now))

    def _path(self, key: str) -> Path:
        return self._entries / key[:2] / key


def _encode(entry: CachedCompile) -> bytes:
    body = b"".join(file.content for file in entry.files)
    header = {
        "stored_at": entry.stored_at,
        "compile": _phase_fields(entry.compile),
        "files": [
            {"name": file.name, "size": len(file.content), "executable": file.executable}
            for file in entry.files
        ],
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    encoded = json.dumps(header).encode("utf-8")
    return MAGIC + HEADER.pack(len(encoded)) + encoded + body


def _decode(data: bytes) -> CachedCompile | None:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + HEADER.size:
        return None
    (size,) = HEADER.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + HEADER.size
    if size > MAX_HEADER_BYTES:
        return None
    body = data[start + size :]
    try:
        header = json.loads(data[start : start + size])
        if hashlib.sha256(body).hexdigest() != header["sha256"]:
            return None
        files, offset = [], 0
        for item in header["files"]:
            length = int(item["size"])
            content = body[offset : offset + length]
            files.append(SandboxFile(str(item["name"]), content, bool(item["executable"])))
            offset += length
        if offset != len(body):
            return None
        return CachedCompile(
            _phase_result(header["compile"]), tuple(files), float(header["stored_at"])
        )
    except (ValueError, KeyError, TypeError):
        return None


# Only successful compiles are kept, so the fields of a failure (signal, limits) never apply.
def _phase_fields(result: PhaseResult) -> dict[str, Any]:
    return {
        "stdout": base64.b64encode(result.stdout).decode("ascii"),
        "stderr": base64.b64encode(result.stderr).decode("ascii"),
        "wall_time_ms": result.wall_time_ms,
        "cpu_time_ms": result.cpu_time_ms,
        "memory_kb": result.memory_kb,
        "truncated": result.truncated,
    }


def _phase_result(fields: dict[str, Any]) -> PhaseResult:
    def count(value: Any) -> int | None:
        return None if value is None else int(value)

    return PhaseResult(
        stdout=base64.b64decode(fields["stdout"], validate=True),
        stderr=base64.b64decode(fields["stderr"], validate=True),
        exit_code=0,
        signal=None,
        wall_time_ms=int(fields["wall_time_ms"]),
        cpu_time_ms=count(fields["cpu_time_ms"]),
        memory_kb=count(fields["memory_kb"]),
        truncated=bool(fields["truncated"]),
    )
