"""Fake cgroup hierarchies in a temp dir, with the files the kernel shows (this host is v1, so
v2 is only ever seen through FakeCgroup2)."""

import errno
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

# What a Debian 12 host's root cgroup lists in cgroup.controllers.
HOST_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")
_NUMBER_OR_MAX = re.compile(r"^(\d+|max)$")
# The real ones, for the fake's own files once install() has patched Path.
_MKDIR, _RMDIR, _WRITE = Path.mkdir, Path.rmdir, Path.write_text


def fake_cgroup1(root: Path, controllers: tuple[str, ...] = ("memory", "cpu", "pids")) -> Path:
    """A v1 layout like this host's: a mount per controller, and a v2 mount at unified/."""
    for controller in controllers:
        (root / controller).mkdir(parents=True)
        (root / controller / "cgroup.procs").write_text("1\n")
    (root / "unified").mkdir(parents=True)
    (root / "unified" / "cgroup.controllers").write_text("hugetlb\n")
    return root


class FakeCgroup2:
    """A cgroup v2 hierarchy under `root`, with the kernel's rules where runakode touches it.

    A new directory gets the interface files of the controllers its parent enables for it;
    writing a file the kernel does not show fails, as does a malformed value; cgroup.subtree_control
    takes "+name"/"-name" for controllers the cgroup has, and shows them as a plain list; a
    namespace root (it has cgroup.type) with processes refuses to enable any; rmdir fails while
    the cgroup has processes or children.
    """

    def __init__(
        self,
        root: Path,
        controllers: tuple[str, ...] = HOST_CONTROLLERS,
        *,
        swap: bool = True,
        namespace_root: bool = False,
        processes: str = "1\n42\n",
    ) -> None:
        self.root = root
        self.swap = swap
        self.writes: list[tuple[str, str]] = []
        root.mkdir(parents=True, exist_ok=True)
        (root / "cgroup.controllers").write_text(" ".join(controllers) + "\n")
        (root / "cgroup.subtree_control").write_text("\n")
        (root / "cgroup.procs").write_text(processes)
        (root / "cgroup.max.depth").write_text("max\n")
        (root / "cpu.stat").write_text("usage_usec 0\n")
        if namespace_root:
            (root / "cgroup.type").write_text("domain\n")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> "FakeCgroup2":
        fake = self

        def mkdir(
            path: Path, mode: int = 0o777, parents: bool = False, exist_ok: bool = False
        ) -> None:
            existed = path.is_dir()
            _MKDIR(path, mode, parents, exist_ok)
            if fake.owns(path) and not existed:
                fake.populate(path)

        def rmdir(path: Path) -> None:
            if not fake.owns(path) or not path.is_dir():
                return _RMDIR(path)
            if (path / "cgroup.procs").read_text().strip() or any(
                p.is_dir() for p in path.iterdir()
            ):
                raise OSError(errno.EBUSY, "Device or resource busy", str(path))
            shutil.rmtree(path)
            return None

        def write_text(path: Path, data: str, *args: Any, **kwargs: Any) -> int:
            if not fake.owns(path):
                return _WRITE(path, data, *args, **kwargs)
            fake.writes.append((str(path.relative_to(fake.root)), data))
            if not path.is_file():
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            if path.name == "cgroup.subtree_control":
                fake.control(path.parent, data)
                return len(data)
            fake.check_value(path, data)
            return _WRITE(path, data + "\n")

        monkeypatch.setattr(Path, "mkdir", mkdir)
        monkeypatch.setattr(Path, "rmdir", rmdir)
        monkeypatch.setattr(Path, "write_text", write_text)
        return self

    def owns(self, path: Path) -> bool:
        return path.is_relative_to(self.root) and path != self.root

    def _list(self, path: Path) -> list[str]:
        return path.read_text().split()

    def populate(self, cgroup: Path) -> None:
        """The files the kernel shows in `cgroup`; those it already has keep their values."""
        enabled = self._list(cgroup.parent / "cgroup.subtree_control")
        files = {
            "cgroup.controllers": " ".join(enabled),
            "cgroup.subtree_control": "",
            "cgroup.procs": "",
            "cgroup.type": "domain",
            "cgroup.events": "populated 0\nfrozen 0",
            "cpu.stat": "usage_usec 0",
        }
        if "memory" in enabled:
            events = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0"
            files |= {"memory.max": "max", "memory.current": "0", "memory.events": events}
            if self.swap:
                files |= {"memory.swap.max": "max", "memory.swap.current": "0"}
        if "cpu" in enabled:
            files |= {"cpu.max": "max 100000", "cpu.weight": "100"}
        if "pids" in enabled:
            files |= {"pids.max": "max", "pids.current": "0"}
        for name, text in files.items():
            if not (cgroup / name).exists():
                _WRITE(cgroup / name, text + "\n")

    def control(self, cgroup: Path, data: str) -> None:
        available = self._list(cgroup / "cgroup.controllers")
        enabled = set(self._list(cgroup / "cgroup.subtree_control"))
        for token in data.split():
            sign, name = token[:1], token[1:]
            if sign not in "+-" or name not in available:
                raise OSError(errno.EINVAL, "Invalid argument", token)
            if sign == "+" and name not in enabled:
                has_processes = bool((cgroup / "cgroup.procs").read_text().strip())
                if (cgroup / "cgroup.type").exists() and has_processes:
                    raise OSError(errno.EBUSY, "Device or resource busy", token)
                enabled.add(name)
            elif sign == "-":
                enabled.discard(name)
        shown = " ".join(name for name in available if name in enabled)
        _WRITE(cgroup / "cgroup.subtree_control", shown + "\n")
        for child in cgroup.iterdir():
            if child.is_dir():
                self.populate(child)

    def check_value(self, path: Path, data: str) -> None:
        value = data.strip()
        valid = {
            "memory.max": _NUMBER_OR_MAX.match(value),
            "memory.swap.max": _NUMBER_OR_MAX.match(value),
            "pids.max": _NUMBER_OR_MAX.match(value),
            "cpu.max": re.match(r"^(\d+|max) \d+$", value),
            "cpu.weight": value.isdigit() and 1 <= int(value) <= 10000,
        }.get(path.name, True)
        if not valid:
            raise OSError(errno.EINVAL, "Invalid argument", f"{path.name}: {data!r}")

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text().strip()

    def set_oom_kills(self, cgroup: str, count: int) -> None:
        events = self.root / cgroup / "memory.events"
        lines = [
            f"oom_kill {count}" if line.startswith("oom_kill ") else line
            for line in events.read_text().splitlines()
        ]
        _WRITE(events, "\n".join(lines) + "\n")

    def set_processes(self, cgroup: str, pids: str) -> None:
        _WRITE(self.root / cgroup / "cgroup.procs", pids)
