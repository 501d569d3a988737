import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

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
