import os
import socket


def _process_start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "gone"


def local_owner() -> str:
    """pid-starttime: names this process on this host, even after its pid is reused."""
    return f"{os.getpid()}-{_process_start_ticks(os.getpid())}"


def local_owner_is_alive(owner: str) -> bool:
    pid_text, _, ticks = owner.partition("-")
    if not pid_text.isdigit():
        return True  # not a name we gave: not ours to remove
    return _process_start_ticks(int(pid_text)) == ticks


def owner_id() -> str:
    """host/pid/starttime, for sandboxes an engine shared by several hosts could list."""
    return f"{socket.gethostname()}/{os.getpid()}/{_process_start_ticks(os.getpid())}"


def owner_is_alive(owner: str) -> bool:
    host, _, local = owner.partition("/")
    if host != socket.gethostname():
        return True  # another host's sandboxes are not ours to judge
    return local_owner_is_alive(local.replace("/", "-"))


def local_liveness(owner: str) -> bool | None:
    """For an owner_id() of this host: whether its process still runs. None for another host's,
    which only that host can judge."""
    host, _, local = owner.partition("/")
    if host != socket.gethostname() or not local:
        return None
    return local_owner_is_alive(local.replace("/", "-"))
