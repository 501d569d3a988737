"""The cgroups of the runsc backend's sandboxes, on cgroup v1 or v2: whichever the host has."""

from pathlib import Path

from runakode.sandboxes.cgroups.tree import (
    CGROUP_ROOT,
    CONTROLLERS,
    CPU_PERIOD_US,
    PARENT,
    CgroupTree,
)
from runakode.sandboxes.cgroups.v1 import CgroupV1
from runakode.sandboxes.cgroups.v2 import CgroupV2


def detect(root: Path = CGROUP_ROOT) -> CgroupTree:
    """v2 where `root` is the unified hierarchy itself, as runsc decides it. A v1 host may also
    mount a v2 hierarchy below `root` (this one has `unified/`): runsc ignores it, and so do we."""
    if (root / "cgroup.controllers").exists():
        return CgroupV2(root)
    return CgroupV1(root)


__all__ = [
    "CGROUP_ROOT",
    "CONTROLLERS",
    "CPU_PERIOD_US",
    "PARENT",
    "CgroupTree",
    "CgroupV1",
    "CgroupV2",
    "detect",
]
