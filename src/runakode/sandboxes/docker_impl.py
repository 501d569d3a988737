import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from typing import Any

from runakode.errors import SandboxError, SandboxUnavailable
from runakode.models import JobResult, Status
from runakode.sandboxes.base import SandboxJob, SandboxSpec
from runakode.sandboxes.docker_api import STDOUT, DockerClient
from runakode.sandboxes.launcher_protocol import LauncherOutput, PhaseReport, encode_job

log = logging.getLogger(__name__)

RUNTIME = "runsc"
LAUNCHER_ARGV = ("python3", "-I", "-S", "/opt/runakode/launcher.py")
SANDBOX_USER = "10001:10001"
SANDBOX_ENV = (
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HOME=/tmp",
    "LANG=C.UTF-8",
    "TMPDIR=/tmp",
)
LABEL_SANDBOX = "runakode.sandbox"
LABEL_OWNER = "runakode.owner"
# Booting a gVisor sandbox takes ~0.3 s idle and several seconds on a loaded host; the program's
# own deadline is enforced inside, so this only bounds a sandbox that stopped answering.
BOOT_ALLOWANCE_S = 10.0
EXIT_WAIT_S = 5.0
DIAGNOSTIC_BYTES = 4096
# gVisor enforces RLIMIT_NPROC inside the sandbox: a fork or thread bomb gets EAGAIN at this
# many tasks. The host pids limit is only a backstop: it also counts gVisor's own threads,
# and reaching it kills the whole sandbox (measured: 512 leaves room for 64 guest tasks).
MAX_TASKS = 64
HOST_PIDS_LIMIT = 512
MAX_OPEN_FILES = 256
MAX_FILE_BYTES = 64 << 20
WORK_DIR_BYTES = 64 << 20
TMP_DIR_BYTES = 64 << 20
SHM_BYTES = 16 << 20


def owner_id() -> str:
    """host/pid/start-time: identifies this process even after its pid is reused."""
    return f"{socket.gethostname()}/{os.getpid()}/{_process_start_ticks(os.getpid())}"


def _process_start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "gone"


def _owner_is_alive(owner: str) -> bool:
    host, _, rest = owner.partition("/")
    pid_text, _, ticks = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another host's sandboxes are not ours to judge
    return _process_start_ticks(int(pid_text)) == ticks


def container_config(spec: SandboxSpec, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "Image": spec.image,
        "Cmd": list(LAUNCHER_ARGV),
        "User": SANDBOX_USER,
        "WorkingDir": "/work",
        "Env": list(SANDBOX_ENV),
        "OpenStdin": True,
        "StdinOnce": True,
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        # No network interface at all, on top of runsc's own --network=none.
        "NetworkDisabled": True,
        # The container id would otherwise be the hostname; it tells the program nothing useful.
        "Hostname": "sandbox",
        "Labels": labels,
        "HostConfig": {
            "Runtime": RUNTIME,
            "NetworkMode": "none",
            "Memory": spec.memory_bytes,
            # Equal to Memory: no swap beyond the memory limit.
            "MemorySwap": spec.memory_bytes,
            "NanoCpus": int(spec.cpus * 1e9),
            "PidsLimit": HOST_PIDS_LIMIT,
            "Ulimits": [
                {"Name": "nproc", "Soft": MAX_TASKS, "Hard": MAX_TASKS},
                {"Name": "nofile", "Soft": MAX_OPEN_FILES, "Hard": MAX_OPEN_FILES},
                {"Name": "fsize", "Soft": MAX_FILE_BYTES, "Hard": MAX_FILE_BYTES},
                # A core dump of a crashing program is of no use and would cost memory.
                {"Name": "core", "Soft": 0, "Hard": 0},
            ],
            # Nothing from the image can be changed; only the size-capped tmpfs mounts below
            # are writable, and they live in the sandbox's memory, never on the host's disk.
            "ReadonlyRootfs": True,
            "Tmpfs": {
                "/work": f"rw,exec,nosuid,nodev,size={WORK_DIR_BYTES},mode=1777",
                "/tmp": f"rw,exec,nosuid,nodev,size={TMP_DIR_BYTES},mode=1777",
            },
            "ShmSize": SHM_BYTES,
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


def _report_status(report: PhaseReport) -> Status:
    if report.timed_out:
        return Status.TIMEOUT
    if report.output_limit:
        return Status.OUTPUT_LIMIT
    return Status.OK if report.exit_code == 0 else Status.RUNTIME_ERROR


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
            if not _owner_is_alive(str((c.get("Labels") or {}).get(LABEL_OWNER, "")))
        ]
        for container_id in orphans:
            await self._docker.remove(container_id)
        if orphans:
            log.info("removed sandboxes left by a dead worker", extra={"count": len(orphans)})
        return len(orphans)

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

    async def run(self, job: SandboxJob) -> JobResult:
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

    async def execute(self, container_id: str, job: SandboxJob) -> JobResult:
        """Hand the job to a prepared sandbox and collect the result; the sandbox is spent."""
        output = LauncherOutput(job.output_max_bytes)
        diagnostics = bytearray()
        stream = await self._docker.attach(container_id)
        started = time.monotonic()
        host_timeout = False
        try:
            await stream.send(encode_job(job))
            async with asyncio.timeout(job.timeout_s + job.compile_timeout_s + BOOT_ALLOWANCE_S):
                async for stream_id, payload in stream.frames():
                    if stream_id == STDOUT:
                        output.feed(payload)
                    elif len(diagnostics) < DIAGNOSTIC_BYTES:
                        diagnostics += payload[:DIAGNOSTIC_BYTES]
                    if output.finished:
                        break
        except TimeoutError:
            host_timeout = True
        finally:
            stream.close()
        elapsed_ms = int((time.monotonic() - started) * 1000)
        if output.finished:
            return self._result(output)
        if diagnostics:
            log.warning("sandbox stderr: %s", diagnostics.decode("utf-8", errors="replace"))
        if not output.accepted and not host_timeout:
            raise SandboxUnavailable("the sandbox ended before it took the job")
        if host_timeout:
            await self._docker.kill(container_id)
        await self._docker.wait(container_id, timeout_s=EXIT_WAIT_S)
        state = (await self._docker.inspect(container_id)).get("State") or {}
        return self._abnormal_result(output, state, host_timeout, elapsed_ms)

    @staticmethod
    def _result(output: LauncherOutput) -> JobResult:
        if output.launcher_error is not None:
            return JobResult.internal_error(f"sandbox launcher failed: {output.launcher_error}")
        compile_report = output.compile_report
        report = output.run_report
        stdout, stderr = output.stdout, output.stderr
        if report is None and compile_report is not None:
            report, stdout, stderr = compile_report, output.compile_stdout, output.compile_stderr
        assert report is not None
        status = _report_status(report)
        if compile_report is not None and report is compile_report and status == Status.OK:
            status = Status.RUNTIME_ERROR
        return JobResult(
            stdout=stdout.text(),
            stderr=stderr.text(),
            exit_code=report.exit_code,
            timeout=status == Status.TIMEOUT,
            exec_time_ms=report.time_ms,
            status=status,
            truncated=report.truncated or stdout.truncated or stderr.truncated,
        )

    @staticmethod
    def _abnormal_result(
        output: LauncherOutput, state: dict[str, Any], host_timeout: bool, elapsed_ms: int
    ) -> JobResult:
        exit_code = int(state.get("ExitCode") or 0)
        if state.get("OOMKilled"):
            status, note = Status.MEMORY_LIMIT, "the program exceeded its memory limit"
        elif host_timeout:
            status, note = Status.TIMEOUT, "the sandbox stopped answering and was killed"
        elif output.malformed:
            status, note = Status.RUNTIME_ERROR, "the program corrupted the sandbox's output"
        else:
            status = Status.RUNTIME_ERROR
            note = f"the program brought its sandbox down (exit status {exit_code})"
        stderr = output.stderr.text()
        separator = "" if not stderr or stderr.endswith("\n") else "\n"
        return JobResult(
            stdout=output.stdout.text(),
            stderr=f"{stderr}{separator}runakode: {note}\n",
            exit_code=exit_code if exit_code else 137,
            timeout=status == Status.TIMEOUT,
            exec_time_ms=elapsed_ms,
            status=status,
            truncated=output.stdout.truncated or output.stderr.truncated,
        )
