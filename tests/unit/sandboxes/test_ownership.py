"""sandboxes/ownership.py: naming the process that owns a sandbox, and judging it gone."""

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runakode.sandboxes import ownership
from runakode.sandboxes.ownership import (
    Owner,
    local_liveness,
    local_owner,
    local_owner_is_alive,
    owner_id,
    owner_is_alive,
    start_ticks,
)

HOST = socket.gethostname()
ME = Owner.current()


@pytest.mark.parametrize(
    ("text", "parse", "expected"),
    [
        ("box-1/123/456", Owner.from_label, Owner("box-1", 123, 456)),
        ("box-1.example/1/0", Owner.from_label, Owner("box-1.example", 1, 0)),
        ("123-456", Owner.from_local_name, Owner(HOST, 123, 456)),
        ("runakode-123-456-0a1b2c", Owner.from_sandbox_id, Owner(HOST, 123, 456)),
        # Text no runakode process wrote: not an owner.
        ("", Owner.from_label, None),
        ("box-1/123", Owner.from_label, None),
        ("box-1/123/456/7", Owner.from_label, None),
        ("/123/456", Owner.from_label, None),
        ("box-1/12a/456", Owner.from_label, None),
        ("box-1/123/gone", Owner.from_label, None),
        ("box-1/١٢/456", Owner.from_label, None),  # digits, but not ASCII ones
        ("abc", Owner.from_local_name, None),
        ("123-", Owner.from_local_name, None),
        ("123-456-789", Owner.from_local_name, None),
        ("runakode-read-0a1b2c3d", Owner.from_sandbox_id, None),
        ("runakode-123-456-", Owner.from_sandbox_id, None),
        ("runakode-123-456", Owner.from_sandbox_id, None),
        ("runakode-123-456-a-b", Owner.from_sandbox_id, None),  # its suffix holds no "-"
        ("runakode--0a1b", Owner.from_sandbox_id, None),
        ("other-123-456-0a1b2c", Owner.from_sandbox_id, None),
    ],
)
def test_parse(text: str, parse: Callable[[str], Owner | None], expected: Owner | None) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("owner", "label", "local_name", "sandbox_id"),
    [
        (Owner("box-1", 123, 456), "box-1/123/456", "123-456", "runakode-123-456-0a1b"),
        (Owner(HOST, 1, 0), f"{HOST}/1/0", "1-0", "runakode-1-0-0a1b"),
    ],
)
def test_format_and_parse_back(owner: Owner, label: str, local_name: str, sandbox_id: str) -> None:
    assert owner.label() == label
    assert owner.local_name() == local_name
    assert owner.sandbox_id("0a1b") == sandbox_id
    assert Owner.from_label(label) == owner
    assert Owner.from_sandbox_id(sandbox_id) == Owner(HOST, owner.pid, owner.ticks)


def test_the_functions_name_this_process_in_both_forms() -> None:
    assert owner_id() == f"{HOST}/{os.getpid()}/{ME.ticks}" == ME.label()
    assert local_owner() == f"{os.getpid()}-{ME.ticks}" == ME.local_name()
    assert Owner.of(os.getpid()) == ME


def ended_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(
    ("case", "owner", "alive", "liveness"),
    [
        ("this process", ME, True, True),
        ("its pid reused by a later process", Owner(HOST, ME.pid, ME.ticks + 1), False, False),
        ("a process that has ended", Owner(HOST, ended_pid(), ME.ticks), False, False),
        ("another host's process", Owner(f"not-{HOST}", ME.pid, ME.ticks + 1), True, None),
    ],
)
def test_liveness(case: str, owner: Owner, alive: bool, liveness: bool | None) -> None:
    assert owner.liveness() is liveness, case
    assert owner_is_alive(owner.label()) is alive, case
    assert local_liveness(owner.label()) is liveness, case
    if owner.is_local:
        assert local_owner_is_alive(owner.local_name()) is alive, case


@pytest.mark.parametrize("text", ["", "not-an-owner", f"{HOST}/123", f"{HOST}/x/1"])
def test_a_label_that_names_no_owner_is_not_judged_dead(text: str) -> None:
    assert owner_is_alive(text)
    assert local_liveness(text) is None


@pytest.mark.parametrize("text", ["", "read", "x-1", "1-x", "1-2-3"])
def test_a_local_name_that_names_no_owner_is_not_judged_dead(text: str) -> None:
    assert local_owner_is_alive(text)


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()[0].decode()


def test_a_zombie_owner_counts_as_dead() -> None:
    go_on, let_go = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for the word, then end without being reaped
        os.close(let_go)
        os.read(go_on, 1)
        os._exit(0)
    os.close(go_on)
    try:
        owner = Owner.of(pid)
        assert owner is not None
        assert owner.liveness() is True
        assert owner_is_alive(owner.label())
        os.close(let_go)
        deadline = time.monotonic() + 10
        while process_state(pid) != "Z":
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        assert start_ticks(pid) is None
        assert owner.liveness() is False
        assert not owner_is_alive(owner.label())
        assert not local_owner_is_alive(owner.local_name())
        assert local_liveness(owner.label()) is False
        assert Owner.of(pid) is None
    finally:
        with contextlib.suppress(OSError):  # already closed unless an assertion failed early
            os.close(let_go)
        os.waitpid(pid, 0)


def stat_line(comm: bytes, state: bytes = b"S", ticks: bytes = b"4242") -> bytes:
    """A /proc/123/stat line (proc(5)): pid, (comm), state (field 3), ..., starttime (22)."""
    fields = [state, *[b"0"] * 18, ticks, *[b"0"] * 30]
    return b"123 (" + comm + b") " + b" ".join(fields) + b"\n"


@pytest.mark.parametrize(
    ("stat", "ticks"),
    [
        (stat_line(b"python3"), 4242),
        (stat_line(b"python3", state=b"R"), 4242),
        (stat_line(b""), 4242),
        # A command name is the program's to choose: spaces and parentheses, even a fake state.
        (stat_line(b"a) (b c"), 4242),
        (stat_line(b"x) Z 1 2 3"), 4242),
        (stat_line(b")))"), 4242),
        # Ended: a zombie waits for its parent, a dead one is being removed.
        (stat_line(b"python3", state=b"Z"), None),
        (stat_line(b"python3", state=b"X"), None),
        # Not what proc(5) writes.
        (stat_line(b"python3", ticks=b"soon"), None),
        (b"123 (python3) S 1 2 3\n", None),
        (b"123 python3 S 1\n", None),
        (b"", None),
    ],
)
def test_start_ticks_reads_field_22_after_the_command_name(
    monkeypatch: pytest.MonkeyPatch, stat: bytes, ticks: int | None
) -> None:
    def fake_open(path: str, mode: str) -> io.BytesIO:
        assert (path, mode) == ("/proc/123/stat", "rb")
        return io.BytesIO(stat)

    monkeypatch.setattr(ownership, "open", fake_open, raising=False)
    assert start_ticks(123) == ticks


def test_start_ticks_of_a_real_process_with_a_hostile_name(tmp_path: Path) -> None:
    program = tmp_path / "a) (b Z 1"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    process = subprocess.Popen([str(program), "30"])
    try:
        ticks = start_ticks(process.pid)
        # Started after this process, and named by that start time.
        assert ticks is not None and ticks >= ME.ticks
        assert Owner.of(process.pid) == Owner(HOST, process.pid, ticks)
    finally:
        process.kill()
        process.wait()
    assert start_ticks(process.pid) is None
    assert Owner.of(process.pid) is None


def test_a_process_that_cannot_read_its_own_stat_cannot_be_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ownership, "start_ticks", lambda pid: None)
    for name in (Owner.current, owner_id, local_owner):
        with pytest.raises(RuntimeError, match="/proc/self/stat"):
            name()


def test_only_this_host_s_owners_are_local() -> None:
    assert Owner(HOST, 1, 0).is_local
    assert not Owner(f"not-{HOST}", 1, 0).is_local
    # A runsc sandbox id carries no host: it is read as this host's.
    parsed = Owner.from_sandbox_id(Owner("elsewhere", 1, 0).sandbox_id("0a1b"))
    assert parsed is not None and parsed.is_local
