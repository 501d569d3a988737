"""Which process owns a sandbox, so that a later process can tell an orphan from a live one.

An owner is one process of one host, named by its pid and its start time in clock ticks since
boot (field 22 of /proc/PID/stat): a reused pid has another start time, so it names another
owner. It is written two ways, and built and read only here:
- the Docker label `runakode.owner` is `host/pid/ticks`, since an engine may be shared by hosts;
- a runsc sandbox id is `runakode-pid-ticks-random`, since runsc's state is local to this host.
"""

import os
import socket
from dataclasses import dataclass
from typing import Self

# Docker labels of every container runakode creates; the orphan sweep lists LABEL_SANDBOX=1.
LABEL_SANDBOX = "runakode.sandbox"
LABEL_OWNER = "runakode.owner"
SANDBOX_ID_PREFIX = "runakode-"


def start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot; None once it has ended.

    A zombie has ended too: it runs nothing and only waits for its parent to reap it.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            fields = stat.read().rsplit(b")", 1)[1].split()
        state, ticks = fields[0], fields[19]  # fields 3 and 22 of proc(5)
        return None if state in (b"Z", b"X") else int(ticks)
    except (OSError, IndexError, ValueError):
        return None


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    ticks: int

    @classmethod
    def of(cls, pid: int) -> Self | None:
        """The process pid of this host as an owner; None when it is not running."""
        ticks = start_ticks(pid)
        return None if ticks is None else cls(socket.gethostname(), pid, ticks)

    @classmethod
    def current(cls) -> Self:
        owner = cls.of(os.getpid())
        if owner is None:
            raise RuntimeError("/proc/self/stat is unreadable: this process cannot be named")
        return owner

    @property
    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def liveness(self) -> bool | None:
        """Whether the owner still runs; None for another host's, which only that host knows."""
        if not self.is_local:
            return None
        return start_ticks(self.pid) == self.ticks

    def label(self) -> str:
        return f"{self.host}/{self.pid}/{self.ticks}"

    @classmethod
    def from_label(cls, text: str) -> Self | None:
        """The owner a label names; None for text no runakode process wrote."""
        parts = text.split("/")
        return cls._parsed(*parts) if len(parts) == 3 else None

    def local_name(self) -> str:
        """pid-ticks: the owner within this host, as runsc sandbox ids carry it."""
        return f"{self.pid}-{self.ticks}"

    @classmethod
    def from_local_name(cls, text: str) -> Self | None:
        pid, _, ticks = text.partition("-")
        return cls._parsed(socket.gethostname(), pid, ticks)

    def sandbox_id(self, suffix: str) -> str:
        """A runsc sandbox id that carries its owner; suffix (no '-') tells its sandboxes apart."""
        return f"{SANDBOX_ID_PREFIX}{self.local_name()}-{suffix}"

    @classmethod
    def from_sandbox_id(cls, name: str) -> Self | None:
        """The owner of a sandbox id made by sandbox_id(); None for any other name."""
        if not name.startswith(SANDBOX_ID_PREFIX):
            return None
        local, _, suffix = name.removeprefix(SANDBOX_ID_PREFIX).rpartition("-")
        return cls.from_local_name(local) if suffix else None

    @classmethod
    def _parsed(cls, host: str, pid_text: str, ticks_text: str) -> Self | None:
        pid, ticks = _number(pid_text), _number(ticks_text)
        if not host or pid is None or ticks is None:
            return None
        return cls(host, pid, ticks)


def owner_id() -> str:
    """host/pid/ticks of this process, for sandboxes an engine shared by several hosts lists."""
    return Owner.current().label()


def local_owner() -> str:
    """pid-ticks: names this process on this host, even after its pid is reused."""
    return Owner.current().local_name()


def owner_is_alive(owner: str) -> bool:
    """False only for an owner label of this host whose process has ended: text that is not
    one of our labels, or another host's, is not ours to judge."""
    parsed = Owner.from_label(owner)
    return parsed is None or parsed.liveness() is not False


def local_owner_is_alive(owner: str) -> bool:
    """As owner_is_alive, for the pid-ticks part of a runsc sandbox id."""
    parsed = Owner.from_local_name(owner)
    return parsed is None or parsed.liveness() is not False


def local_liveness(owner: str) -> bool | None:
    """For an owner_id() of this host: whether its process still runs. None for another host's,
    which only that host can judge, and for text that is not an owner_id()."""
    parsed = Owner.from_label(owner)
    return None if parsed is None else parsed.liveness()
