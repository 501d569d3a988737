"""runakode.archives.extract_zip: plain files out of a zip, every hostile trick refused."""

import io
import stat
import struct
import zipfile
from collections.abc import Iterable
from typing import Any

import pytest

from runakode.archives import ArchiveError, ExtractedFile, extract_zip

CAP = 1 << 20


def build(entries: Iterable[tuple[str | zipfile.ZipInfo, bytes]], **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", **kwargs) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = mode << 16
    return info


def refusal(data: bytes, **kwargs: Any) -> str:
    kwargs.setdefault("max_total_bytes", CAP)
    with pytest.raises(ArchiveError) as caught:
        extract_zip(data, **kwargs)
    return caught.value.message


def central_headers(data: bytes) -> list[int]:
    """Offsets of the central directory's file headers."""
    offsets, start = [], 0
    while (found := data.find(b"PK\x01\x02", start)) >= 0:
        offsets.append(found)
        start = found + 4
    return offsets


def local_headers(data: bytes) -> list[int]:
    offsets, start = [], 0
    while (found := data.find(b"PK\x03\x04", start)) >= 0:
        offsets.append(found)
        start = found + 4
    return offsets


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    size = struct.calcsize(fmt)
    return data[:offset] + struct.pack(fmt, value) + data[offset + size :]


# --- what is accepted ---------------------------------------------------------------------------


def test_extracts_files_in_order_with_content_and_executable_bit() -> None:
    data = build(
        [
            ("lib/", b""),
            (entry("lib/helper.py", stat.S_IFREG | 0o644), b"def f(): pass\n"),
            (entry("run.sh", stat.S_IFREG | 0o755), b"#!/bin/sh\necho hi\n"),
            ("data.txt", b"x" * 1000),
        ],
        compression=zipfile.ZIP_DEFLATED,
    )

    assert extract_zip(data, max_total_bytes=CAP) == [
        ExtractedFile("lib/helper.py", b"def f(): pass\n", False),
        ExtractedFile("run.sh", b"#!/bin/sh\necho hi\n", True),
        ExtractedFile("data.txt", b"x" * 1000, False),
    ]


def test_directory_entries_are_skipped() -> None:
    data = build([(entry("dir/", stat.S_IFDIR | 0o755), b""), ("dir/a", b"1")])

    assert [file.name for file in extract_zip(data, max_total_bytes=CAP)] == ["dir/a"]


def test_an_empty_archive_gives_no_files() -> None:
    assert extract_zip(build([]), max_total_bytes=CAP) == []


def test_entries_without_a_unix_mode_are_plain_files() -> None:
    info = zipfile.ZipInfo("win.txt")
    info.create_system = 0
    info.external_attr = 0x20  # MS-DOS "archive" attribute

    assert extract_zip(build([(info, b"ok")]), max_total_bytes=CAP) == [
        ExtractedFile("win.txt", b"ok", False)
    ]


def test_exactly_at_the_size_cap_is_accepted() -> None:
    data = build([("a", b"x" * 60), ("b", b"y" * 40)])

    assert len(extract_zip(data, max_total_bytes=100)) == 2


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_not_a_zip(data: bytes) -> None:
    assert refusal(data) == "is not a valid zip archive"


def test_a_truncated_archive() -> None:
    assert refusal(build([("a", b"hello" * 100)])[:-30]) == "is not a valid zip archive"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil", "entry '../evil' points outside the working directory"),
        ("a/../../evil", "entry 'a/../../evil' points outside the working directory"),
        ("a/..", "entry 'a/..' points outside the working directory"),
        ("/etc/passwd", "entry '/etc/passwd' has an absolute path"),
        ("a\\..\\evil", "entry 'a\\\\..\\\\evil' has a backslash in its name"),
        ("C:/Windows/x", "entry 'C:/Windows/x' has a drive letter"),
        ("c:x", "entry 'c:x' has a drive letter"),
        ("a//b", "entry 'a//b' is not a valid file name"),
        ("./a", "entry './a' is not a valid file name"),
        ("a/./b", "entry 'a/./b' is not a valid file name"),
    ],
)
def test_hostile_names(name: str, message: str) -> None:
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # ZipInfo() itself would normalise some of these
    assert refusal(build([(info, b"x")])) == message


def test_a_name_part_longer_than_255_bytes() -> None:
    assert "has a name too long for a file" in refusal(build([("d/" + "a" * 256, b"x")]))


def test_a_name_part_of_255_bytes_is_fine() -> None:
    assert len(extract_zip(build([("a" * 255, b"x")]), max_total_bytes=CAP)) == 1


def test_a_nul_in_a_name() -> None:
    data = build([("abXcd", b"x")]).replace(b"abXcd", b"ab\0cd")

    assert refusal(data) == "entry 'ab\\x00cd' has a NUL character in its name"


def test_symlinks() -> None:
    data = build([(entry("link", stat.S_IFLNK | 0o777), b"/etc/passwd")])

    assert refusal(data) == "entry 'link' is a symbolic link"


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK])
def test_devices_and_special_files(kind: int) -> None:
    data = build([(entry("dev", kind | 0o666), b"")])

    assert refusal(data) == "entry 'dev' is a device or other special file"


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicate_names() -> None:
    assert (
        refusal(build([("a.txt", b"1"), ("a.txt", b"2")])) == "entry 'a.txt' appears more than once"
    )


def test_a_name_that_is_both_file_and_directory() -> None:
    assert (
        refusal(build([("a", b"1"), ("a/b", b"2")])) == "entry 'a' is both a file and a directory"
    )


def test_too_many_entries() -> None:
    data = build([(f"f{index}", b"") for index in range(11)])

    assert refusal(data, max_entries=10) == "has too many entries (11, at most 10)"
    assert len(extract_zip(data, max_total_bytes=CAP, max_entries=11)) == 11


def test_declared_sizes_over_the_cap() -> None:
    data = build([("a", b"x" * 60), ("b", b"y" * 41)], compression=zipfile.ZIP_DEFLATED)

    assert refusal(data, max_total_bytes=100) == "would extract to more than 100 bytes"


def test_a_bomb_that_lies_about_its_size() -> None:
    data = build([("bomb", b"\0" * (4 << 20))], compression=zipfile.ZIP_DEFLATED)
    # Declare 10 bytes in both headers: zipfile then reads only 10 and the CRC gives it away.
    data = patch(data, local_headers(data)[0] + 22, "<I", 10)
    data = patch(data, central_headers(data)[0] + 24, "<I", 10)

    assert refusal(data, max_total_bytes=1000) == "entry 'bomb' is corrupt"


def test_what_comes_out_is_counted_whatever_was_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    data = build([("a", b"x" * 10)])
    # Should a reader ever yield more than declared, the count still stops it.
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name: io.BytesIO(b"x" * 5000))

    assert refusal(data, max_total_bytes=1000) == "would extract to more than 1000 bytes"


def test_encrypted_entries() -> None:
    data = build([("secret", b"x")])
    data = patch(data, local_headers(data)[0] + 6, "<H", 0x1)
    data = patch(data, central_headers(data)[0] + 8, "<H", 0x1)

    assert refusal(data) == "entry 'secret' is encrypted"


def test_an_unsupported_compression_method() -> None:
    data = build([("a", b"x")])
    data = patch(data, local_headers(data)[0] + 8, "<H", 99)
    data = patch(data, central_headers(data)[0] + 10, "<H", 99)

    assert refusal(data) == "entry 'a' uses an unsupported compression method"


def test_a_bad_checksum() -> None:
    data = build([("a", b"hello")])
    data = patch(data, local_headers(data)[0] + 14, "<I", 0xDEADBEEF)
    data = patch(data, central_headers(data)[0] + 16, "<I", 0xDEADBEEF)

    assert refusal(data) == "entry 'a' is corrupt"


def test_archive_error_is_a_value_error() -> None:
    assert issubclass(ArchiveError, ValueError)
