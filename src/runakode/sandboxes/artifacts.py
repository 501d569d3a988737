"""A compile's artifacts as the launcher sends them: their bytes in data frames, then a manifest
of names, sizes and executable bits. Taken only between a successful compile's report and the
first sign of the run, so nothing the program does can become part of them."""

import json

from runakode.models import check_file_name
from runakode.sandboxes.base import SandboxFile

# The launcher sends none beyond these (its own copy of the bound).
MAX_ARTIFACT_FILES = 256
MAX_MANIFEST_BYTES = 64 << 10


class ArtifactReceiver:
    """Reassembles the artifacts of one job; `files` once a valid set has arrived whole."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.open = False
        self.files: tuple[SandboxFile, ...] | None = None
        self._data = bytearray()
        self._overflow = False

    def start(self) -> None:
        """The compile succeeded: its artifacts come next (if the job asked for any)."""
        self.open = self.max_bytes > 0

    def add(self, payload: bytes) -> None:
        if self._overflow or len(self._data) + len(payload) > self.max_bytes:
            self._overflow = True
            self._data.clear()
            return
        self._data += payload

    def finish(self, manifest: bytes) -> None:
        data = bytes(self._data)
        self.close()
        if not self._overflow:
            self.files = parse_manifest(manifest, data)

    def close(self) -> None:
        """Nothing more is taken: the manifest came, or the run has begun."""
        self.open = False
        self._data = bytearray()


def parse_manifest(manifest: bytes, data: bytes) -> tuple[SandboxFile, ...] | None:
    """The files `manifest` describes, cut from `data` in its order; None unless the two agree
    exactly and every name is a safe relative path, once."""
    if len(manifest) > MAX_MANIFEST_BYTES:
        return None
    try:
        entries = json.loads(manifest)["files"]
        if not isinstance(entries, list) or not 0 < len(entries) <= MAX_ARTIFACT_FILES:
            return None
        files: list[SandboxFile] = []
        offset = 0
        for entry in entries:
            name = check_file_name(entry["name"])
            size, executable = entry["size"], entry["executable"]
            if type(size) is not int or size < 0 or type(executable) is not bool:
                return None
            files.append(SandboxFile(name, data[offset : offset + size], executable))
            offset += size
    except (ValueError, KeyError, TypeError):
        return None
    if offset != len(data) or len({file.name for file in files}) != len(files):
        return None
    return tuple(files)
