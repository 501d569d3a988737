"""Containers a dead process of this host left behind are removed by the next orphan sweep;
those of a live process, or of another host, are kept."""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
