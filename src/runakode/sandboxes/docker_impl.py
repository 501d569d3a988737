import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from runakode.errors import SandboxError
from runakode.sandboxes import hardening, seccomp
from runakode.sandboxes.base import (
    MAX_VERSION_CHARS,
    VERSION_FILE,
    BootsUnderWay,
    ProgramInput,
    SandboxEvent,
    SandboxHandle,
    SandboxJob,
    SandboxSpec,
    complete,
)
from runakode.sandboxes.docker_api import STDOUT, AttachedStream, DockerClient
from runakode.sandboxes.images import present_images
from runakode.sandboxes.launcher_protocol import launcher_argv
from runakode.sandboxes.ownership import LABEL_OWNER, LABEL_SANDBOX, owner_id, owner_is_alive
from runakode.sandboxes.session import Ending, launcher_session

log = logging.getLogger(__name__)

RUNTIME = "runsc"
# Up to 2 s: with several hostile programs at once on 2 cores, the flag once came after 0.5 s.
OOM_FLAG_CHECKS = 20
OOM_FLAG_INTERVAL_S = 0.1


def container_config(spec: SandboxSpec, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "Image": spec.image,
        "Cmd": launcher_argv(spec, announce=False),
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
            # Our seccomp profile (no namespaces of the program's own) replaces Docker's
            # default one, which breaks thread creation under runsc --oci-seccomp.
            "SecurityOpt": ["no-new-privileges", seccomp.docker_security_opt()],
            # Output travels over attach only; nothing the program prints is written to host disk.
            "LogConfig": {"Type": "none"},
            # No host path is mounted: the code arrives on stdin, so nothing links back to the host.
            "Binds": [],
            "Mounts": [],
        },
    }


class DockerBackend:
    """One fresh gVisor container per job through the Docker Engine API.

    Each sandbox is attached from its boot on: the attach connection is the launcher's stdin,
    so when this process dies an idle sandbox sees its stdin close and ends by itself.
    """

    def __init__(self, images: Iterable[str], docker: DockerClient) -> None:
        self._docker = docker
        self._images = sorted(set(images))
        self._present: set[str] = set()
        self._owner = owner_id()
        self._live: dict[str, AttachedStream] = {}
        self._boots = BootsUnderWay()

    async def start(self) -> None:
        await self._docker.ping(timeout_s=5.0)
        info = await self._docker.info()
        if RUNTIME not in (info.get("Runtimes") or {}):
            raise SandboxError("the Docker engine has no 'runsc' runtime: run `make setup`")
        self._present = await present_images(self._images, self._docker.image_exists)
        await self.remove_orphans()

    def image_present(self, image: str) -> bool:
        return image in self._present

    async def remove_orphans(self) -> int:
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
        if image not in self._present:
            return None
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
        await self._boots.close(hardening.BOOT_ALLOWANCE_S)
        for container_id in list(self._live):
            await self._remove(container_id)
        await self._docker.close()

    async def prepare(self, spec: SandboxSpec) -> SandboxHandle:
        async with self._boots.boot():
            return await self._boot(spec)

    async def _boot(self, spec: SandboxSpec) -> SandboxHandle:
        labels = {LABEL_SANDBOX: "1", LABEL_OWNER: self._owner}
        name = f"runakode-{secrets.token_hex(8)}"
        creating = asyncio.ensure_future(
            self._docker.create_container(name, container_config(spec, labels))
        )
        try:
            container_id = await asyncio.shield(creating)
        except BaseException:
            # The engine finishes a create it has begun, whatever becomes of our request: a
            # removal sent before it has finished would find nothing and leave it behind.
            await complete(self._remove_created(creating, name))
            raise
        try:
            self._live[container_id] = await self._docker.attach(container_id)
            await self._docker.start(container_id)
        except BaseException:
            await complete(self._remove(container_id))
            raise
        return SandboxHandle(container_id, spec)

    async def discard(self, handle: SandboxHandle) -> None:
        await self._remove(handle.id)

    async def _remove_created(self, creating: "asyncio.Future[str]", name: str) -> None:
        try:
            container_id = await creating
        except Exception:
            container_id = name  # an answer lost on the way: by name, in case it exists
        await self._remove(container_id)

    async def _remove(self, container_id: str) -> None:
        stream = self._live.pop(container_id, None)
        if stream is not None:
            stream.close()
        try:
            await self._docker.remove(container_id)
        except SandboxError as exc:
            # Its owner label lets the next sweep remove it.
            log.warning("could not remove sandbox %s: %s", container_id[:12], exc.message)

    async def execute(
        self, handle: SandboxHandle, job: SandboxJob, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        stream = self._live.get(handle.id)
        if stream is None:
            raise SandboxError(f"sandbox {handle.id[:12]} is not one of this worker's")
        transport = _AttachTransport(stream)

        async def post_mortem(killed: bool) -> Ending:
            if killed:
                await self._docker.kill(handle.id)
            await self._docker.wait(handle.id, timeout_s=hardening.EXIT_WAIT_S)
            if transport.stray_stderr_bytes:
                log.warning(
                    "sandbox ended early", extra={"stderr_bytes": transport.stray_stderr_bytes}
                )
            return await self._ending(handle.id, killed)

        try:
            async for event in launcher_session(transport, job, controls, post_mortem):
                yield event
        finally:
            stream.close()

    async def _ending(self, container_id: str, killed: bool) -> Ending:
        # The engine learns of an OOM kill from an event that may come a moment after the
        # exit (seen under load): a SIGKILL we did not send is looked at a little longer.
        ending = await self._state(container_id)
        for _ in range(OOM_FLAG_CHECKS):
            if ending.oom_killed or killed or ending.exit_code != 137:
                break
            await asyncio.sleep(OOM_FLAG_INTERVAL_S)
            ending = await self._state(container_id)
        return ending

    async def _state(self, container_id: str) -> Ending:
        state = (await self._docker.inspect(container_id)).get("State") or {}
        return Ending(int(state.get("ExitCode") or 0), bool(state.get("OOMKilled")))


class _AttachTransport:
    def __init__(self, stream: AttachedStream) -> None:
        self._stream = stream
        # The sandbox's own stderr: counted, never logged, since the program can write to it.
        self.stray_stderr_bytes = 0

    async def send(self, data: bytes) -> None:
        await self._stream.send(data)

    async def end_input(self) -> None:
        self._stream.end_input()

    async def receive(self) -> AsyncGenerator[bytes, None]:
        async for stream_id, payload in self._stream.frames():
            if stream_id == STDOUT:
                yield payload
            else:
                self.stray_stderr_bytes += len(payload)
