import io
import re
import stat
import zipfile
from dataclasses import dataclass

MAX_NAME_PART_BYTES = 255
MAX_NAME_BYTES = 4095
_READ_CHUNK_BYTES = 64 << 10
_ENCRYPTED_FLAG = 0x1
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")


class ArchiveError(ValueError):
    """An archive refused; the message reads after the field's name ("is not a zip archive")."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExtractedFile:
    name: str
    content: bytes
    executable: bool = False


def extract_zip(
    data: bytes, *, max_total_bytes: int, max_entries: int = 1024
) -> list[ExtractedFile]:
    """The regular files of a zip archive, in archive order, checked so that writing them under
    a work directory can never write anywhere else or more than max_total_bytes.

    Directory entries are skipped (their files imply them); everything else that is not a plain
    file with a plain relative name is refused as a whole, with ArchiveError.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # hostile bytes can break the parser in many ways; each is a refusal
        raise ArchiveError("is not a valid zip archive") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > max_entries:
            raise ArchiveError(f"has too many entries ({len(entries)}, at most {max_entries})")
        files = [entry for entry in entries if _check_entry(entry)]
        _check_unique(files)
        # Declared sizes first, so an honest bomb is refused without inflating anything.
        declared = sum(entry.file_size for entry in files)
        if declared > max_total_bytes:
            raise ArchiveError(_too_big(max_total_bytes))
        extracted = []
        budget = max_total_bytes
        for entry in files:
            content = _read(archive, entry, budget, max_total_bytes)
            budget -= len(content)
            mode = entry.external_attr >> 16
            extracted.append(ExtractedFile(entry.filename, content, bool(mode & 0o111)))
    return extracted


def _check_entry(entry: zipfile.ZipInfo) -> bool:
    """Refuse a hostile entry; True for a regular file, False for a directory to skip."""
    name = entry.filename
    _check_name(entry.orig_filename, name)
    if entry.flag_bits & _ENCRYPTED_FLAG:
        raise ArchiveError(f"entry {name!r} is encrypted")
    file_type = stat.S_IFMT(entry.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        raise ArchiveError(f"entry {name!r} is a symbolic link")
    if entry.is_dir() or file_type == stat.S_IFDIR:
        return False
    # No type bits at all: an archive made where files have no Unix mode (e.g. on Windows).
    if file_type not in (0, stat.S_IFREG):
        raise ArchiveError(f"entry {name!r} is a device or other special file")
    return True


def _check_name(original: str, name: str) -> None:
    # zipfile cuts a name at its first NUL; the archive's own bytes are in orig_filename.
    if "\0" in original:
        raise ArchiveError(f"entry {original!r} has a NUL character in its name")
    if "\\" in name:
        raise ArchiveError(f"entry {name!r} has a backslash in its name")
    if name.startswith("/"):
        raise ArchiveError(f"entry {name!r} has an absolute path")
    if _DRIVE_LETTER.match(name):
        raise ArchiveError(f"entry {name!r} has a drive letter")
    parts = name.removesuffix("/").split("/")
    if ".." in parts:
        raise ArchiveError(f"entry {name!r} points outside the working directory")
    if any(part in ("", ".") for part in parts):
        raise ArchiveError(f"entry {name!r} is not a valid file name")
    too_long = any(_name_bytes(part) > MAX_NAME_PART_BYTES for part in parts)
    if too_long or _name_bytes(name) > MAX_NAME_BYTES:
        raise ArchiveError(f"entry {name[:64]!r}... has a name too long for a file")


def _name_bytes(name: str) -> int:
    return len(name.encode("utf-8", "surrogatepass"))


def _check_unique(files: list[zipfile.ZipInfo]) -> None:
    names: set[str] = set()
    directories: set[str] = set()
    for entry in files:
        name = entry.filename
        if name in names:
            raise ArchiveError(f"entry {name!r} appears more than once")
        names.add(name)
        parts = name.split("/")
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    clash = names & directories
    if clash:
        raise ArchiveError(f"entry {min(clash)!r} is both a file and a directory")


def _read(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: int, max_total_bytes: int
) -> bytes:
    # Declared sizes can lie: count what actually comes out and stop one byte past the budget.
    chunks = []
    total = 0
    name = entry.filename
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(min(_READ_CHUNK_BYTES, budget - total + 1)):
                total += len(chunk)
                if total > budget:
                    raise ArchiveError(_too_big(max_total_bytes))
                chunks.append(chunk)
    except ArchiveError:
        raise
    except NotImplementedError:
        raise ArchiveError(f"entry {name!r} uses an unsupported compression method") from None
    except Exception:  # a bad CRC, a truncated stream, a broken deflate stream...
        raise ArchiveError(f"entry {name!r} is corrupt") from None
    return b"".join(chunks)


def _too_big(max_total_bytes: int) -> str:
    return f"would extract to more than {max_total_bytes} bytes"
