"""Host memory of sandboxes: PSS of each container's host process tree, and MemAvailable."""

import dataclasses
import os
from collections import defaultdict
from typing import Any

from bench import docker, sandboxes

METHOD = (
    "PSS (proportional set size, /proc/PID/smaps_rollup) summed over each idle sandbox's host "
    "processes: its supervisor (the containerd shim with the docker backend, the `runsc run` "
    "process with the runsc backend) and everything under it (runsc gofer, runsc "
    "sandbox/Sentry, ptrace stubs). PSS splits pages shared between processes (runsc "
    "binary, libraries) among them, so the sum over sandboxes is what they add to the host "
    "(a process alone on the host bears all of its shared pages: a lone container reads high). "
    "The pool's idle sandboxes are measured after the Python hello phase, when it holds only "
    "Python's, each with python3 already started. Baseline: the same measure of one plain "
    "`docker run --runtime=runsc` container idling in `python3` (reading stdin). In the JSON "
    "only (too noisy for a pool of a few): MemAvailable drop from before the service started, "
    "minus the service process's own PSS, per idle sandbox."
)


def mem_available_bytes() -> int:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def pss_bytes(pid: int) -> int:
    """0 for a process that is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children[_parent_pid(int(entry))].append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


@dataclasses.dataclass
class ContainerMemory:
    name: str
    supervisor_pss: int
    runsc_pss: int
    processes: int

    @property
    def total(self) -> int:
        return self.supervisor_pss + self.runsc_pss


def tree_memory(name: str, sandbox_pid: int, children: dict[int, list[int]]) -> ContainerMemory:
    """PSS of the sandbox's supervisor (the parent of the runsc sandbox) and all it started."""
    supervisor = _parent_pid(sandbox_pid)
    pids = _tree(supervisor, children)
    supervisor_pss = pss_bytes(supervisor)
    runsc_pss = sum(pss_bytes(pid) for pid in pids if pid != supervisor)
    return ContainerMemory(name, supervisor_pss, runsc_pss, len(pids))


def measure_sandboxes(
    probe: sandboxes.Probe, idle: list[sandboxes.Sandbox]
) -> list[ContainerMemory]:
    children = _children()
    return [tree_memory(s.name, probe.pid(s), children) for s in idle]


def measure_containers(containers: list[docker.Container]) -> list[ContainerMemory]:
    children = _children()
    return [tree_memory(c.name, docker.main_pid(c.id), children) for c in containers]


def summary(measured: list[ContainerMemory]) -> dict[str, Any]:
    count = len(measured) or 1
    mib = float(1 << 20)
    return {
        "containers": len(measured),
        "mean_pss_mib": round(sum(m.total for m in measured) / count / mib, 2),
        "mean_runsc_pss_mib": round(sum(m.runsc_pss for m in measured) / count / mib, 2),
        "mean_supervisor_pss_mib": round(sum(m.supervisor_pss for m in measured) / count / mib, 2),
        "mean_processes": round(sum(m.processes for m in measured) / count, 1),
    }
