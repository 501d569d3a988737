"""The sandboxes one service process owns, seen from outside, for either backend.

docker: containers labelled runakode.sandbox=1 whose runakode.owner label is host/pid/ticks.
runsc: gVisor sandboxes in the service's runsc state directory, named runakode-pid-ticks-*.
A service whose choice is not known (sandboxBackend `auto`, and no log line saying which) is
looked for under both. Either way `pid` is the host pid of the gVisor sandbox process; its
parent is the process that supervises it (the containerd shim, or the service's `runsc run`
child).
"""

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Protocol

from bench import docker
from runakode.sandboxes.ownership import Owner

# As in src/runakode/sandboxes/runsc_impl.py.
RUNSC_STATE_DIR = Path("/run/runakode/runsc")
RUNSC_BUNDLE_DIR = Path("/run/runakode/bundles")


@dataclasses.dataclass(frozen=True)
class Sandbox:
    name: str
    running: bool
    pid: int = 0  # 0: not known yet (see Probe.pid)


class Probe(Protocol):
    def owned(self) -> list[Sandbox]: ...
    def pid(self, sandbox: Sandbox) -> int: ...
    def remove(self, sandboxes: list[Sandbox]) -> list[str]: ...


class DockerProbe:
    def __init__(self, owner: Owner) -> None:
        self.owner = owner

    def owned(self) -> list[Sandbox]:
        return [
            Sandbox(c.id, c.state == "running")
            for c in docker.containers(f"label={docker.SANDBOX_LABEL}=1")
            if Owner.from_label(c.owner) == self.owner
        ]

    def pid(self, sandbox: Sandbox) -> int:
        return sandbox.pid or docker.main_pid(sandbox.name)

    def remove(self, sandboxes: list[Sandbox]) -> list[str]:
        docker.remove([s.name for s in sandboxes])
        return [f"container {s.name[:12]}" for s in sandboxes]


class RunscProbe:
    def __init__(self, owner: Owner) -> None:
        self.owner = owner

    def _runsc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runsc", "--root", str(RUNSC_STATE_DIR), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def owned(self) -> list[Sandbox]:
        if not RUNSC_STATE_DIR.is_dir():
            return []
        done = self._runsc("list", "-format=json")
        if done.returncode != 0:
            raise RuntimeError(f"runsc list failed: {done.stdout[:200]}{done.stderr[:200]}")
        entries = json.loads(done.stdout or "null") or []
        return [
            Sandbox(str(e["id"]), e.get("status") == "running", int(e.get("pid") or 0))
            for e in entries
            if Owner.from_sandbox_id(str(e.get("id", ""))) == self.owner
        ]

    def pid(self, sandbox: Sandbox) -> int:
        return sandbox.pid

    def remove(self, sandboxes: list[Sandbox]) -> list[str]:
        for sandbox in sandboxes:
            self._runsc("kill", sandbox.name, "KILL")
            self._runsc("delete", "--force", sandbox.name)
        left = [f"runsc sandbox {s.name}" for s in sandboxes]
        if RUNSC_BUNDLE_DIR.is_dir():
            for bundle in RUNSC_BUNDLE_DIR.iterdir():
                if Owner.from_sandbox_id(bundle.name) == self.owner:
                    shutil.rmtree(bundle, ignore_errors=True)
                    left.append(f"bundle {bundle}")
        return left


class EitherProbe:
    """Both backends' sandboxes of one owner; a runsc sandbox is the one with a known pid."""

    def __init__(self, owner: Owner) -> None:
        self._docker = DockerProbe(owner)
        self._runsc = RunscProbe(owner)

    def owned(self) -> list[Sandbox]:
        return self._runsc.owned() + self._docker.owned()

    def pid(self, sandbox: Sandbox) -> int:
        return sandbox.pid or self._docker.pid(sandbox)

    def remove(self, sandboxes: list[Sandbox]) -> list[str]:
        runsc = [s for s in sandboxes if s.pid]
        return self._runsc.remove(runsc) + self._docker.remove([s for s in sandboxes if not s.pid])


def probe(backend: str, service_pid: int) -> Probe:
    """`backend`: docker, runsc, or anything else for a service that may use either."""
    owner = Owner.of(service_pid)
    if owner is None:
        raise RuntimeError(f"the service process {service_pid} is not running")
    if backend == "runsc":
        return RunscProbe(owner)
    if backend == "docker":
        return DockerProbe(owner)
    return EitherProbe(owner)
