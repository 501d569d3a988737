"""Which sandbox backend a worker uses. `auto` takes runsc driven directly wherever the host
allows it (a sandbox boot costs about half the CPU it costs through Docker), Docker otherwise.

Both backends need the Docker engine (the runsc backend unpacks its images through it), so
whether Docker answers decides nothing here."""

import os
import shutil
from dataclasses import dataclass
from typing import Literal

from runakode.sandboxes.cgroups import CgroupTree

BackendName = Literal["docker", "runsc"]


@dataclass(frozen=True)
class BackendChoice:
    name: BackendName
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


@dataclass(frozen=True)
class Host:
    """What the direct runsc backend needs of its host, as found there."""

    uid: int
    runsc: str | None  # where the runsc binary is; None: not on PATH
    cgroups: CgroupTree

    @classmethod
    def probe(cls, binary: str, cgroups: CgroupTree) -> "Host":
        """Only looks: nothing is created, started or written."""
        return cls(os.geteuid(), shutil.which(binary), cgroups)

    def runsc_blockers(self) -> list[str]:
        """What keeps the direct runsc backend from running here; empty when nothing does."""
        blockers = []
        if self.uid != 0:
            blockers.append(f"root (running as uid {self.uid})")
        if self.runsc is None:
            blockers.append("the runsc binary (not on PATH; `make setup` installs it)")
        problem = self.cgroups.problem()
        if problem is not None:
            blockers.append(f"usable cgroups ({problem})")
        return blockers


def choose_backend(configured: str, host: Host) -> BackendChoice:
    """The backend for `sandboxBackend` (auto, docker or runsc) on this host, and why."""
    if configured == "docker":
        return BackendChoice("docker", "set by sandboxBackend")
    if configured == "runsc":
        return BackendChoice("runsc", "set by sandboxBackend")
    blockers = host.runsc_blockers()
    if blockers:
        return BackendChoice("docker", f"runsc direct needs {'; '.join(blockers)}")
    return BackendChoice(
        "runsc",
        f"direct; runsc found at {host.runsc}, {host.cgroups.describe()}, running as root",
    )
