import os
from pathlib import Path

from runakode.sandboxes.cgroups.tree import (
    CONTROLLERS,
    CPU_PERIOD_US,
    PARENT,
    CgroupTree,
    read_counter,
)

IDLE_CPU_SHARES = 2
JOB_CPU_SHARES = 1024


class CgroupV1(CgroupTree):
    """One hierarchy per controller: <root>/<controller>/runakode/<sandbox>."""

    version = 1

    def _path(self, controller: str, name: str) -> Path:
        return self.root / controller / PARENT / name

    def problem(self) -> str | None:
        missing = [c for c in CONTROLLERS if not (self.root / c / "cgroup.procs").exists()]
        if missing:
            return f"cgroup v1 controllers missing under {self.root}: {', '.join(missing)}"
        read_only = [
            str(self.root / c) for c in CONTROLLERS if not os.access(self.root / c, os.W_OK)
        ]
        if read_only:
            return f"cannot write {', '.join(read_only)}"
        return None

    def _parents(self) -> list[Path]:
        return [self.root / controller / PARENT for controller in CONTROLLERS]

    def _prepare_parents(self) -> None:
        for parent in self._parents():
            parent.mkdir(exist_ok=True)

    def _set_limits(self, name: str, memory_bytes: int, cpus: float, max_tasks: int) -> None:
        memory = self._path("memory", name)
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        # Present only where swap is accounted; memory+swap equal to memory: no swap at all.
        swap_limit = memory / "memory.memsw.limit_in_bytes"
        if swap_limit.exists():
            swap_limit.write_text(str(memory_bytes))
        cpu = self._path("cpu", name)
        (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * CPU_PERIOD_US)))
        (self._path("pids", name) / "pids.max").write_text(str(max_tasks))

    def _set_cpu_weight(self, name: str, *, job: bool) -> None:
        shares = JOB_CPU_SHARES if job else IDLE_CPU_SHARES
        (self._path("cpu", name) / "cpu.shares").write_text(str(shares))

    def oom_killed(self, name: str) -> bool:
        return read_counter(self._path("memory", name) / "memory.oom_control", "oom_kill") > 0
