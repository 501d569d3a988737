"""The few Docker CLI calls the bench needs."""

import atexit
import dataclasses
import functools
import json
import os
import subprocess
import tempfile

from runakode.sandboxes import seccomp

SANDBOX_LABEL = "runakode.sandbox"
OWNER_LABEL = "runakode.owner"


@dataclasses.dataclass(frozen=True)
class Container:
    id: str
    name: str
    state: str
    owner: str


@functools.cache
def security_opt() -> str:
    """`--security-opt` for a plain `docker run`: the sandboxes' own seccomp profile (the
    engine runs runsc with --oci-seccomp, and Docker's default profile breaks threads under
    gVisor). The CLI reads a profile from a file, not from the option itself."""
    with tempfile.NamedTemporaryFile(
        "w", prefix="runakode-seccomp-", suffix=".json", delete=False
    ) as profile:
        json.dump(seccomp.oci_seccomp(), profile)
    atexit.register(os.unlink, profile.name)
    return f"seccomp={profile.name}"


def _docker(*args: str, timeout_s: float = 30.0) -> str:
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=timeout_s
    ).stdout


def preflight(images: list[str]) -> None:
    """Fail early, with a clear message, when the engine, runsc or an image is missing."""
    runtimes = _docker("info", "--format", "{{json .Runtimes}}")
    if '"runsc"' not in runtimes:
        raise RuntimeError("the Docker engine has no runsc runtime: run `make setup`")
    for image in images:
        try:
            _docker("image", "inspect", "--format", "{{.Id}}", image)
        except subprocess.CalledProcessError:
            raise RuntimeError(f"image {image} is missing: run `make setup`") from None


def containers(*filters: str) -> list[Container]:
    """All containers (any state) matching every `docker ps --filter` given."""
    args = ["ps", "-a", "--no-trunc"]
    for spec in filters:
        args += ["--filter", spec]
    fmt = '{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label "' + OWNER_LABEL + '"}}'
    out = _docker(*args, "--format", fmt)
    found = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            found.append(Container(*parts))
    return found


def named(prefix: str) -> list[Container]:
    return [c for c in containers(f"name={prefix}") if c.name.startswith(prefix)]


def remove(container_ids: list[str]) -> None:
    if container_ids:
        subprocess.run(
            ["docker", "rm", "-f", *container_ids], capture_output=True, check=False, timeout=60
        )


def main_pid(container_id: str) -> int:
    """The pid Docker reports for a running container (under runsc: the gVisor sandbox)."""
    return int(_docker("inspect", "--format", "{{.State.Pid}}", container_id).strip())
