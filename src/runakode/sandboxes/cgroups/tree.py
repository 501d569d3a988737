import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from pathlib import Path

from runakode.errors import SandboxError

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "runakode"
CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000


class CgroupTree(ABC):
    """One cgroup per sandbox of the runsc backend, in one hierarchy (v1 or v2).

    Each is created with its limits before runsc starts and owned by us: runsc joins a cgroup
    that already exists and sets nothing on it, so its OOM counter can still be read after the
    sandbox is gone. While a sandbox boots or waits it has the lowest CPU weight, so booting
    ahead never slows down a program that is running; its job gets the normal weight.
    """

    version: int

    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        self.root = root

    @abstractmethod
    def problem(self) -> str | None:
        """Why sandboxes cannot have their cgroups on this host, or None. Only reads."""

    @abstractmethod
    def _parents(self) -> list[Path]:
        """The directories that hold one cgroup per sandbox."""

    @abstractmethod
    def _prepare_parents(self) -> None: ...

    @abstractmethod
    def _set_limits(self, name: str, memory_bytes: int, cpus: float, max_tasks: int) -> None: ...

    @abstractmethod
    def _set_cpu_weight(self, name: str, *, job: bool) -> None: ...

    @abstractmethod
    def oom_killed(self, name: str) -> bool: ...

    def describe(self) -> str:
        return f"cgroup v{self.version} {'/'.join(CONTROLLERS)} controllers"

    def _dirs(self, name: str) -> list[Path]:
        return [parent / name for parent in self._parents()]

    def create(self, name: str, memory_bytes: int, cpus: float, max_tasks: int) -> None:
        try:
            self._prepare_parents()
            for directory in self._dirs(name):
                directory.mkdir()
            self._set_limits(name, memory_bytes, cpus, max_tasks)
            self._set_cpu_weight(name, job=False)
        except OSError as exc:
            for directory in self._dirs(name):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise SandboxError(f"cannot set up the sandbox's cgroup: {exc}") from exc

    def give_job_priority(self, name: str) -> None:
        try:
            self._set_cpu_weight(name, job=True)
        except OSError as exc:
            raise SandboxError(f"cannot raise the sandbox's CPU share: {exc}") from exc

    async def remove(self, name: str, wait_s: float = 2.0) -> None:
        deadline = time.monotonic() + wait_s
        for path in self._dirs(name):
            while path.exists():
                try:
                    path.rmdir()
                except FileNotFoundError:
                    break
                except OSError:
                    # Busy until the sandbox's last process has left it.
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.02)

    def leftovers(self) -> list[str]:
        names = {
            path.name
            for parent in self._parents()
            if parent.is_dir()
            for path in parent.iterdir()
            if path.is_dir()
        }
        return sorted(names)


def read_counter(path: Path, key: str) -> int:
    """A counter of a flat keyed file ("key value" lines: memory.events, memory.oom_control);
    0 when the file or the key is missing."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0
