import asyncio
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

from runakode.errors import SandboxError, SandboxUnavailable
from runakode.sandboxes import hardening
from runakode.sandboxes.base import (
    MAX_VERSION_CHARS,
    VERSION_FILE,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
)
from runakode.sandboxes.docker_api import STDOUT, DockerClient
from runakode.sandboxes.launcher_protocol import LauncherOutput, encode_job, new_token
from runakode.sandboxes.ownership import owner_id, owner_is_alive
from runakode.sandboxes.results import abnormal_result, finished_result

log = logging.getLogger(__name__)

RUNTIME = "runsc"
LABEL_SANDBOX = "runakode.sandbox"
LABEL_OWNER = "runakode.owner"


def container_config(spec: SandboxSpec, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "Image": spec.image,
        "Cmd": list(hardening.LAUNCHER_ARGV),
        "User": f"{hardening.SANDBOX_UID}:{hardening.SANDBOX_GID}",
        "WorkingDir": "/work",
        "Env": list(hardening.SANDBOX_ENV),
        "OpenStdin": True,
        "StdinOnce": True,
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        # No network interface at all, on top of runsc's own --network=none.
        "NetworkDisabled": True,
        "Hostname": hardening.HOSTNAME,
        "Labels": labels,
        "HostConfig": {
            "Runtime": RUNTIME,
            "NetworkMode": "none",
            "Memory": spec.memory_bytes,
            # Equal to Memory: no swap beyond the memory limit.
            "MemorySwap": spec.memory_bytes,
            "NanoCpus": int(spec.cpus * 1e9),
            "PidsLimit": hardening.HOST_PIDS_LIMIT,
            "Ulimits": [
                {"Name": name, "Soft": value, "Hard": value}
                for name, value in hardening.RLIMITS.items()
            ],
            # Nothing from the image can be changed; only the size-capped tmpfs mounts below
            # are writable, and they live in the sandbox's memory, never on the host's disk.
            "ReadonlyRootfs": True,
            "Tmpfs": {
                "/work": f"rw,exec,nosuid,nodev,size={hardening.WORK_DIR_BYTES},mode=1777",
                "/tmp": f"rw,exec,nosuid,nodev,size={hardening.TMP_DIR_BYTES},mode=1777",
            },
            "ShmSize": hardening.SHM_BYTES,
            # No capability, and no way to gain one through setuid binaries.
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            # Output travels over attach only; nothing the program prints is written to host disk.
            "LogConfig": {"Type": "none"},
            # No host path is mounted: the code arrives on stdin, so nothing links back to the host.
            "Binds": [],
            "Mounts": [],
        },
    }


class DockerSandbox:
    """One fresh gVisor container per job through the Docker Engine API."""

    def __init__(self, images: Iterable[str], docker: DockerClient) -> None:
        self._docker = docker
        self._images = sorted(set(images))
        self._owner = owner_id()
        self._live: set[str] = set()

    async def start(self) -> None:
        await self._docker.ping(timeout_s=5.0)
        info = await self._docker.info()
        if RUNTIME not in (info.get("Runtimes") or {}):
            raise SandboxError("the Docker engine has no 'runsc' runtime: run `make setup`")
        missing = [image for image in self._images if not await self._docker.image_exists(image)]
        if missing:
            raise SandboxError(f"sandbox images missing: {', '.join(missing)}: run `make setup`")
        await self.remove_orphans()

    async def remove_orphans(self) -> int:
        """Remove sandboxes left by an earlier process of this host that has died."""
        containers = await self._docker.list_containers([f"{LABEL_SANDBOX}=1"])
        orphans = [
            c["Id"]
            for c in containers
            if not owner_is_alive(str((c.get("Labels") or {}).get(LABEL_OWNER, "")))
        ]
        for container_id in orphans:
            await self._docker.remove(container_id)
        if orphans:
            log.info("removed sandboxes left by a dead worker", extra={"count": len(orphans)})
        return len(orphans)

    async def image_version(self, image: str) -> str | None:
        try:
            text = await self._docker.read_image_file(image, VERSION_FILE)
        except SandboxError:
            return None
        return text.strip()[:MAX_VERSION_CHARS] or None

    async def health(self) -> str | None:
        try:
            await self._docker.ping(timeout_s=2.0)
        except SandboxError as exc:
            return exc.message
        return None

    async def close(self) -> None:
        for container_id in list(self._live):
            await self.discard(container_id)
        await self._docker.close()

    async def run(self, job: SandboxJob) -> SandboxResult:
        prepared = await self.prepare(job.spec)
        try:
            return await self.execute(prepared, job)
        finally:
            await asyncio.shield(self.discard(prepared))

    async def prepare(self, spec: SandboxSpec) -> str:
        """Boot a sandbox whose launcher waits for a job; returns its container id."""
        labels = {LABEL_SANDBOX: "1", LABEL_OWNER: self._owner}
        name = f"runakode-{secrets.token_hex(8)}"
        container_id = await self._docker.create_container(name, container_config(spec, labels))
        self._live.add(container_id)
        try:
            await self._docker.start(container_id)
        except BaseException:
            await asyncio.shield(self.discard(container_id))
            raise
        return container_id

    async def discard(self, container_id: str) -> None:
        try:
            await self._docker.remove(container_id)
        except SandboxError as exc:
            log.warning("could not remove sandbox %s: %s", container_id[:12], exc.message)
            return
        self._live.discard(container_id)

    async def execute(self, container_id: str, job: SandboxJob) -> SandboxResult:
        """Hand the job to a prepared sandbox and collect the result; the sandbox is spent."""
        token = new_token()
        output = LauncherOutput.for_job(job, token)
        # The sandbox's own stderr: counted, never logged, since the program can write to it.
        stray_stderr_bytes = 0
        stream = await self._docker.attach(container_id)
        started = time.monotonic()
        host_timeout = False
        try:
            await stream.send(encode_job(job, token))
            deadline_s = job.deadline_s + hardening.BOOT_ALLOWANCE_S
            async with asyncio.timeout(deadline_s):
                async for stream_id, payload in stream.frames():
                    if stream_id == STDOUT:
                        output.feed(payload)
                    else:
                        stray_stderr_bytes += len(payload)
                    if output.finished:
                        break
        except TimeoutError:
            host_timeout = True
        finally:
            stream.close()
        elapsed_ms = int((time.monotonic() - started) * 1000)
        if output.finished:
            return finished_result(output)
        if stray_stderr_bytes:
            log.warning("sandbox ended early", extra={"stderr_bytes": stray_stderr_bytes})
        if not output.accepted and not host_timeout:
            raise SandboxUnavailable("the sandbox ended before it took the job")
        if host_timeout:
            await self._docker.kill(container_id)
        await self._docker.wait(container_id, timeout_s=hardening.EXIT_WAIT_S)
        state = (await self._docker.inspect(container_id)).get("State") or {}
        oom_killed = bool(state.get("OOMKilled"))
        exit_code = int(state.get("ExitCode") or 0)
        return abnormal_result(output, oom_killed, exit_code, host_timeout, elapsed_ms)
