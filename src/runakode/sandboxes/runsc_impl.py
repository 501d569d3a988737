import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runakode.errors import SandboxError, SandboxUnavailable
from runakode.sandboxes import cgroups, hardening, seccomp
from runakode.sandboxes.base import (
    MAX_VERSION_CHARS,
    VERSION_FILE,
    BootsUnderWay,
    Finished,
    ProgramInput,
    SandboxEvent,
    SandboxHandle,
    SandboxJob,
    SandboxSpec,
    complete,
)
from runakode.sandboxes.choice import Host
from runakode.sandboxes.docker_api import DockerClient
from runakode.sandboxes.images import present_images
from runakode.sandboxes.launcher_protocol import launcher_argv
from runakode.sandboxes.ownership import local_owner, local_owner_is_alive
from runakode.sandboxes.session import Ending, launcher_session

log = logging.getLogger(__name__)

RUNSC = "runsc"
STATE_DIR = Path("/run/runakode/runsc")
BUNDLE_DIR = Path("/run/runakode/bundles")
ROOTFS_DIR = Path("/var/lib/runakode/rootfs")
READ_BYTES = 64 << 10
# The launcher's first byte when started with --announce: booted and waiting for its job.
READY = b"Y"


NATURAL_EXIT_WAIT_S = 0.5


@dataclass
class _Sandbox:
    id: str
    process: asyncio.subprocess.Process
    # Its launcher reported the end of its job, so it ends by itself (or was stopped).
    served: bool = False


def _tmpfs(destination: str, size_bytes: int, *extra: str) -> dict[str, Any]:
    options = ["nosuid", "nodev", "mode=1777", f"size={size_bytes}", *extra]
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": options}


def oci_config(spec: SandboxSpec, rootfs: Path, env: list[str], cgroup: str) -> dict[str, Any]:
    """The OCI runtime spec of one sandbox: the same limits as the Docker backend's."""
    rlimits = [
        {"type": f"RLIMIT_{name.upper()}", "soft": value, "hard": value}
        for name, value in hardening.RLIMITS.items()
    ]
    no_capabilities: dict[str, list[str]] = {
        "bounding": [],
        "effective": [],
        "inheritable": [],
        "permitted": [],
        "ambient": [],
    }
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {
                "uid": hardening.SANDBOX_UID,
                "gid": hardening.SANDBOX_GID,
                "additionalGids": [hardening.SANDBOX_GID],
            },
            "args": launcher_argv(spec, announce=True),
            "env": env,
            "cwd": "/work",
            "capabilities": no_capabilities,
            "rlimits": rlimits,
            "noNewPrivileges": True,
        },
        # Shared by every sandbox of the image, so it must never be writable.
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": hardening.HOSTNAME,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "noexec", "mode=755", "size=1m"],
            },
            _tmpfs("/work", hardening.WORK_DIR_BYTES, "exec"),
            _tmpfs("/tmp", hardening.TMP_DIR_BYTES, "exec"),
            _tmpfs("/dev/shm", hardening.SHM_BYTES, "noexec"),
        ],
        "linux": {
            "namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")],
            "resources": {
                # OCI's swap is memory+swap (cgroup v1's terms): equal to the limit, no swap.
                # On cgroup v2 runsc derives memory.swap.max (0) from it the same way.
                "memory": {"limit": spec.memory_bytes, "swap": spec.memory_bytes},
                "cpu": {
                    "quota": int(spec.cpus * cgroups.CPU_PERIOD_US),
                    "period": cgroups.CPU_PERIOD_US,
                },
                "pids": {"limit": hardening.HOST_PIDS_LIMIT},
            },
            # Created with these limits by CgroupTree.create(); runsc only joins it. The same
            # path on cgroup v1 (under each controller) and v2 (under the unified root).
            "cgroupsPath": f"/{cgroups.PARENT}/{cgroup}",
            # runsc ignores it unless started with --oci-seccomp, as prepare() does.
            "seccomp": seccomp.oci_seccomp(),
        },
    }


class RunscBackend:
    """Drives gVisor's runsc directly from OCI bundles: no daemon between us and the sandbox.

    Costs less CPU per sandbox than going through dockerd and containerd. Docker is used only
    to unpack each image into a read-only root file system shared by its sandboxes: in the
    background after start, or by the first sandbox of an image that is not unpacked yet.
    """

    def __init__(
        self,
        images: Iterable[str],
        docker: DockerClient,
        cgroup_tree: cgroups.CgroupTree | None = None,
    ) -> None:
        self._cgroups = cgroup_tree or cgroups.detect()
        self._images = sorted(set(images))
        self._present: set[str] = set()
        self._docker = docker
        self._owner = local_owner()
        self._rootfs: dict[str, Path] = {}
        self._env: dict[str, list[str]] = {}
        self._unpacking: dict[str, asyncio.Lock] = {}
        self._unpacker: asyncio.Task[None] | None = None
        self._live: dict[str, _Sandbox] = {}
        self._boots = BootsUnderWay()

    async def start(self) -> None:
        blockers = Host.probe(RUNSC, self._cgroups).runsc_blockers()
        if blockers:
            raise SandboxError(
                f"the runsc backend cannot run on this host: it needs {'; '.join(blockers)}. "
                "Use `sandboxBackend: auto` or `docker` here."
            )
        for directory in (STATE_DIR, BUNDLE_DIR, ROOTFS_DIR):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._present = await present_images(self._images, self._docker.image_exists)
        await self.remove_orphans()
        self._unpacker = asyncio.create_task(self._unpack_all())

    def image_present(self, image: str) -> bool:
        return image in self._present

    async def _unpack_all(self) -> None:
        # One image at a time: unpacking is disk and CPU the jobs need more.
        for image in sorted(self._present):
            try:
                await self._unpacked(image)
            except SandboxError as exc:
                log.warning(
                    "could not unpack a sandbox image", extra={"image": image, "error": str(exc)}
                )

    async def _unpacked(self, image: str) -> Path:
        """The image's root file system, unpacked first if this host has not yet."""
        if image not in self._rootfs:
            async with self._unpacking.setdefault(image, asyncio.Lock()):
                if image not in self._rootfs:
                    if image not in self._present:
                        raise SandboxError(f"sandbox image {image} is missing: run `make setup`")
                    self._rootfs[image], self._env[image] = await self._unpack(image)
        return self._rootfs[image]

    async def _unpack(self, image: str) -> tuple[Path, list[str]]:
        inspected = await self._docker.inspect_image(image)
        image_id = str(inspected["Id"]).removeprefix("sha256:")
        image_env = (inspected.get("Config") or {}).get("Env") or []
        # As Docker does: the image's variables, overridden by the sandbox's own.
        env = dict(entry.partition("=")[::2] for entry in [*image_env, *hardening.SANDBOX_ENV])
        env["HOSTNAME"] = hardening.HOSTNAME  # as Docker sets it, so both backends look alike
        rootfs = ROOTFS_DIR / image_id
        if not rootfs.is_dir():
            await self._docker.export_image(image, rootfs)
            log.info("unpacked sandbox image", extra={"image": image, "rootfs": str(rootfs)})
        return rootfs, [f"{key}={value}" for key, value in env.items()]

    async def _runsc(self, *args: str, timeout_s: float = 10.0) -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            RUNSC,
            "--root",
            str(STATE_DIR),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SandboxError(f"runsc {args[0]} did not finish in {timeout_s:g} s") from None
        return process.returncode or 0, output

    async def remove_orphans(self) -> int:
        """Remove sandboxes left by an earlier process of this host that has died."""
        status, output = await self._runsc("list", "-format=json")
        if status != 0:
            raise SandboxError(f"runsc list failed: {output[:200]!r}")
        names = {str(entry.get("id", "")) for entry in json.loads(output or b"null") or []}
        names.update(self._cgroups.leftovers())
        names.update(os.listdir(BUNDLE_DIR))
        orphans = [
            name
            for name in names
            if name.startswith("runakode-")
            and not local_owner_is_alive(name.removeprefix("runakode-").rsplit("-", 1)[0])
        ]
        for name in orphans:
            await self._runsc("kill", name, "KILL")
            await self._runsc("delete", "--force", name)
            await self._clean_up(name)
        if orphans:
            log.info("removed sandboxes left by a dead worker", extra={"count": len(orphans)})
        return len(orphans)

    async def image_version(self, image: str) -> str | None:
        if image not in self._present:
            return None
        try:
            if image in self._rootfs:
                path = self._rootfs[image] / VERSION_FILE.lstrip("/")
                text = path.read_text(errors="replace")
            else:
                text = await self._docker.read_image_file(image, VERSION_FILE)
        except (OSError, SandboxError):
            return None
        return text.strip()[:MAX_VERSION_CHARS] or None

    async def health(self) -> str | None:
        if not os.access(STATE_DIR, os.W_OK):
            return f"runsc state directory {STATE_DIR} is not writable"
        return None

    async def close(self) -> None:
        if self._unpacker is not None:
            self._unpacker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._unpacker
        await self._boots.close(hardening.BOOT_ALLOWANCE_S)
        for sandbox_id in list(self._live):
            await self._remove(sandbox_id)
        await self._docker.close()

    async def prepare(self, spec: SandboxSpec) -> SandboxHandle:
        async with self._boots.boot():
            return await self._boot(spec)

    async def _boot(self, spec: SandboxSpec) -> SandboxHandle:
        # The id carries its owner, so a later process can tell an orphan from a live sandbox.
        rootfs = await self._unpacked(spec.image)
        sandbox_id = f"runakode-{self._owner}-{secrets.token_hex(6)}"
        bundle = BUNDLE_DIR / sandbox_id
        bundle.mkdir(mode=0o700)
        config = oci_config(spec, rootfs, self._env[spec.image], sandbox_id)
        (bundle / "config.json").write_text(json.dumps(config))
        self._cgroups.create(sandbox_id, spec.memory_bytes, spec.cpus, hardening.HOST_PIDS_LIMIT)
        process = await asyncio.create_subprocess_exec(
            RUNSC,
            "--root",
            str(STATE_DIR),
            "--platform=ptrace",
            "--oci-seccomp",
            "--network=none",
            "run",
            "--bundle",
            str(bundle),
            sandbox_id,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for the service must not reach the sandboxes.
            start_new_session=True,
        )
        self._live[sandbox_id] = _Sandbox(sandbox_id, process)
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(
                process.stdout.readexactly(len(READY)), hardening.BOOT_ALLOWANCE_S
            )
        except (TimeoutError, asyncio.IncompleteReadError):
            ready = b""
        except BaseException:
            # Cancelled while it booted: nobody will ever be handed it.
            await complete(self._remove(sandbox_id))
            raise
        handle = SandboxHandle(sandbox_id, spec)
        if ready != READY:
            await self.discard(handle)
            raise SandboxUnavailable(f"a sandbox did not boot in {hardening.BOOT_ALLOWANCE_S:g} s")
        return handle

    async def discard(self, handle: SandboxHandle) -> None:
        await self._remove(handle.id)

    async def _remove(self, sandbox_id: str) -> None:
        sandbox = self._live.pop(sandbox_id, None)
        if sandbox is not None:
            await self._stop(sandbox, ending=sandbox.served)
        await self._clean_up(sandbox_id)

    async def _stop(self, sandbox: _Sandbox, *, ending: bool = False) -> None:
        """Kill the sandbox; `runsc run` then deletes it and exits by itself. `ending`: its
        launcher is done, so it is given a moment to exit by itself first (which spares a
        `runsc kill`, a process of ~30 ms of CPU, per job)."""
        if ending and sandbox.process.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sandbox.process.wait(), NATURAL_EXIT_WAIT_S)
        if sandbox.process.returncode is None:
            with contextlib.suppress(SandboxError):
                await self._runsc("kill", sandbox.id, "KILL")
        try:
            await asyncio.wait_for(sandbox.process.wait(), hardening.EXIT_WAIT_S)
        except TimeoutError:
            sandbox.process.kill()
            await sandbox.process.wait()
            with contextlib.suppress(SandboxError):
                await self._runsc("delete", "--force", sandbox.id)

    async def _clean_up(self, sandbox_id: str) -> None:
        await self._cgroups.remove(sandbox_id)
        shutil.rmtree(BUNDLE_DIR / sandbox_id, ignore_errors=True)

    async def execute(
        self, handle: SandboxHandle, job: SandboxJob, controls: ProgramInput | None
    ) -> AsyncGenerator[SandboxEvent, None]:
        sandbox = self._live.get(handle.id)
        if sandbox is None:
            raise SandboxError(f"sandbox {handle.id} is not one of this worker's")
        self._cgroups.give_job_priority(handle.id)

        async def post_mortem(killed: bool) -> Ending:
            # Killed or not, the sandbox is stopped: its launcher no longer answers.
            await self._stop(sandbox, ending=not killed)
            exit_code = sandbox.process.returncode or 137
            return Ending(exit_code, self._cgroups.oom_killed(handle.id))

        async for event in launcher_session(
            _PipeTransport(sandbox.process), job, controls, post_mortem
        ):
            if isinstance(event, Finished):
                sandbox.served = True
            yield event


class _PipeTransport:
    """The launcher's stdin and stdout, as the pipes of `runsc run`."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout

    async def send(self, data: bytes) -> None:
        self._stdin.write(data)
        await self._stdin.drain()

    async def end_input(self) -> None:
        self._stdin.close()

    async def receive(self) -> AsyncGenerator[bytes, None]:
        while chunk := await self._stdout.read(READ_BYTES):
            yield chunk
