import os
from pathlib import Path

from runakode.sandboxes.cgroups.tree import (
    CONTROLLERS,
    CPU_PERIOD_US,
    PARENT,
    CgroupTree,
    read_counter,
)

SUBTREE_CONTROL = "cgroup.subtree_control"
# cpu.weight goes from 1 to 10000; 100 is every cgroup's default.
IDLE_CPU_WEIGHT = 1
JOB_CPU_WEIGHT = 100


class CgroupV2(CgroupTree):
    """The unified hierarchy: <root>/runakode/<sandbox>, with the controllers enabled for the
    children of <root> and of <root>/runakode."""

    version = 2

    @property
    def _parent(self) -> Path:
        return self.root / PARENT

    def _enabled(self, directory: Path) -> set[str]:
        return set((directory / SUBTREE_CONTROL).read_text().split())

    def problem(self) -> str | None:
        try:
            available = (self.root / "cgroup.controllers").read_text().split()
            not_enabled = sorted(set(available) - self._enabled(self.root))
            # Only the host's root cgroup has no cgroup.type. Any other one (the root of a
            # container's cgroup namespace) cannot enable controllers for children while it has
            # processes of its own, and runsc enables every available one at the root.
            stuck = (
                bool(not_enabled)
                and (self.root / "cgroup.type").exists()
                and bool((self.root / "cgroup.procs").read_text().strip())
            )
        except OSError as exc:
            return f"cannot read the cgroup v2 hierarchy at {self.root}: {exc.strerror}"
        missing = [c for c in CONTROLLERS if c not in available]
        if missing:
            return f"cgroup v2 controllers missing under {self.root}: {', '.join(missing)}"
        if not (os.access(self.root, os.W_OK) and os.access(self.root / SUBTREE_CONTROL, os.W_OK)):
            return f"cannot write {self.root}"
        if stuck:
            return (
                f"{self.root} holds processes, so its controllers {', '.join(not_enabled)} "
                "cannot be enabled for sandboxes (move the worker to a cgroup of its own)"
            )
        return None

    def _enable_controllers(self, directory: Path) -> None:
        missing = [c for c in CONTROLLERS if c not in self._enabled(directory)]
        if missing:
            (directory / SUBTREE_CONTROL).write_text(" ".join(f"+{c}" for c in missing))

    def _parents(self) -> list[Path]:
        return [self._parent]

    def _prepare_parents(self) -> None:
        self._enable_controllers(self.root)
        self._parent.mkdir(exist_ok=True)
        self._enable_controllers(self._parent)

    def _set_limits(self, name: str, memory_bytes: int, cpus: float, max_tasks: int) -> None:
        cgroup = self._parent / name
        (cgroup / "memory.max").write_text(str(memory_bytes))
        # Present only where swap is accounted (and then in every non-root cgroup).
        if (self._parent / "memory.swap.max").exists():
            (cgroup / "memory.swap.max").write_text("0")
        (cgroup / "cpu.max").write_text(f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
        (cgroup / "pids.max").write_text(str(max_tasks))

    def _set_cpu_weight(self, name: str, *, job: bool) -> None:
        weight = JOB_CPU_WEIGHT if job else IDLE_CPU_WEIGHT
        (self._parent / name / "cpu.weight").write_text(str(weight))

    def oom_killed(self, name: str) -> bool:
        return read_counter(self._parent / name / "memory.events", "oom_kill") > 0
