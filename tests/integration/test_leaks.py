"""Containers a dead process of this host left behind are removed by the next orphan sweep;
those of a live process, or of another host, are kept."""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from harness import ServiceProcess, free_port, sandboxes_of, service_config

from runakode.sandboxes.docker_api import DockerClient
from runakode.sandboxes.docker_impl import DockerBackend
from runakode.sandboxes.ownership import LABEL_OWNER, LABEL_SANDBOX, Owner, owner_id

IMAGE = "python-runner"

# A worker killed just after it created the container for reading or unpacking an image.
KILLED_MIDWAY = """
import asyncio, os, signal, sys
from pathlib import Path
from runakode.sandboxes.docker_api import DockerClient

async def main() -> None:
    docker = DockerClient()
    create = docker.create_container

    async def create_then_die(name, config):
        container_id = await create(name, config)
        print(container_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        return container_id

    docker.create_container = create_then_die
    if sys.argv[1] == "read":
        await docker.read_image_file(sys.argv[2], "/etc/os-release")
    else:
        await docker.export_image(sys.argv[2], Path(sys.argv[3]))

asyncio.run(main())
"""


@pytest.fixture
async def docker() -> AsyncIterator[DockerClient]:
    client = DockerClient()
    yield client
    await client.close()


def inspect(container_id: str) -> dict[str, Any] | None:
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{json .}}", container_id],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(done.stdout) if done.returncode == 0 else None


def ended_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def labelled_container(docker: DockerClient, owner: str) -> str:
    return await docker.create_container(
        f"runakode-test-leaks-{uuid.uuid4().hex[:8]}",
        {"Image": IMAGE, "Cmd": ["true"], "Labels": {LABEL_SANDBOX: "1", LABEL_OWNER: owner}},
    )


async def test_the_sweep_removes_what_dead_owners_left_and_keeps_the_rest(
    docker: DockerClient,
) -> None:
    me = Owner.current()
    owners = {
        "ended process": Owner(me.host, ended_pid(), me.ticks).label(),
        "reused pid": Owner(me.host, me.pid, me.ticks + 1).label(),
        "live process": owner_id(),
        "another host": Owner(f"not-{socket.gethostname()}", ended_pid(), 1).label(),
    }
    containers = {case: await labelled_container(docker, owner) for case, owner in owners.items()}
    try:
        await DockerBackend([IMAGE], docker).remove_orphans()
        left = {case for case, container_id in containers.items() if inspect(container_id)}
        assert left == {"live process", "another host"}
    finally:
        for container_id in containers.values():
            await docker.remove(container_id)


@pytest.mark.alone
@pytest.mark.parametrize("step", ["read", "export"])
async def test_a_worker_killed_while_reading_an_image_leaves_nothing_after_the_sweep(
    docker: DockerClient, step: str, tmp_path: Path
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_MIDWAY,
        step,
        IMAGE,
        str(tmp_path / "rootfs"),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == -signal.SIGKILL, output
    container_id = output.decode().strip()
    try:
        inspected = inspect(container_id)
        assert inspected is not None, "the killed worker's container should be left behind"
        assert inspected["State"]["Status"] == "created"
        assert inspected["Name"].startswith(f"/runakode-{step}-")
        labels = inspected["Config"]["Labels"] or {}
        assert labels[LABEL_SANDBOX] == "1"
        owner = Owner.from_label(labels[LABEL_OWNER])
        assert owner is not None and owner.is_local and owner.pid == child.pid
        assert owner.liveness() is False
        await DockerBackend([IMAGE], docker).remove_orphans()
        assert inspect(container_id) is None
    finally:
        await docker.remove(container_id)


# --- a worker killed with SIGKILL: its sandboxes end by themselves, the next sweep removes them


@pytest.mark.alone
def test_a_killed_workers_sandboxes_end_and_are_swept_by_another_worker(workdir: Path) -> None:
    """Two workers of each backend on this host; one of each is killed with SIGKILL. Its idle
    sandboxes lose their controlling stream and end by themselves; a living worker's periodic
    sweep (every 30 s) removes what is left, without any worker starting."""
    services = {
        (backend, role): ServiceProcess(
            "runakode",
            service_config(port=free_port(), sandboxBackend=backend, sandboxPool={"python": 1}),
            workdir,
        ).start()
        for backend in ("docker", "runsc")
        for role in ("killed", "survivor")
    }
    try:
        for service in services.values():
            service.wait_healthy()
        doomed = {backend: services[(backend, "killed")] for backend in ("docker", "runsc")}
        left: dict[str, list[str]] = {}
        for backend, service in doomed.items():
            assert service.proc is not None
            left[backend] = wait_for(lambda s=service: sandboxes_of_pid(s), "an idle sandbox")
            service.proc.kill()
            service.proc.wait()
        # Docker: the attach connection was the launcher's stdin; it closed, so it ended.
        wait_for(
            lambda: not any(running_container(c) for c in left["docker"]),
            "the killed worker's idle sandbox ends by itself",
            timeout_s=10,
        )
        wait_for(
            lambda: all(not sandboxes_of_pid(s) for s in doomed.values()),
            "the survivors sweep the killed workers' sandboxes",
            timeout_s=75,
        )
        # Removed by the survivors' periodic sweep (no worker started meanwhile).
        survivors = [services[(backend, "survivor")] for backend in ("docker", "runsc")]
        wait_for(
            lambda: all(SWEPT in s.logs() for s in survivors),
            "each survivor logs what it swept",
            timeout_s=5,
        )
    finally:
        for service in services.values():
            service.stop()


SWEPT = "removed sandboxes left by a dead worker"


def sandboxes_of_pid(service: ServiceProcess) -> list[str]:
    assert service.proc is not None
    return sandboxes_of(service.proc.pid)


def running_container(container_id: str) -> bool:
    details = inspect(container_id)
    return bool(details and details["State"]["Running"])


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not in {timeout_s:g} s: {what}"
        time.sleep(0.2)
    return value
