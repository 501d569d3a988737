import asyncio
import contextlib
import time
from pathlib import Path

from runakode.errors import SandboxError

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "runakode"
CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
# While a sandbox boots or waits, it yields the CPU to sandboxes running a job: booting ahead
# must never slow down a program that is running. Its job gets the normal share.
IDLE_CPU_SHARES = 2
JOB_CPU_SHARES = 1024


def _path(controller: str, name: str) -> Path:
    return CGROUP_ROOT / controller / PARENT / name


def check_available() -> None:
    for controller in CONTROLLERS:
        if not (CGROUP_ROOT / controller / "cgroup.procs").exists():
            raise SandboxError(
                f"the runsc backend needs the cgroup v1 {controller} controller; "
                "use `sandboxBackend: docker` on this host"
            )


def create(name: str, memory_bytes: int, cpus: float, max_tasks: int) -> None:
    """A cgroup per sandbox with its limits, owned by us: runsc joins it and leaves it alone,
    so its OOM counter can still be read after the sandbox is gone."""
    try:
        for controller in CONTROLLERS:
            _path(controller, name).mkdir(parents=True)
        memory = _path("memory", name)
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        swap_limit = memory / "memory.memsw.limit_in_bytes"
        if swap_limit.exists():
            swap_limit.write_text(str(memory_bytes))
        cpu = _path("cpu", name)
        (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * CPU_PERIOD_US)))
        (cpu / "cpu.shares").write_text(str(IDLE_CPU_SHARES))
        (_path("pids", name) / "pids.max").write_text(str(max_tasks))
    except OSError as exc:
        for controller in CONTROLLERS:
            with contextlib.suppress(OSError):
                _path(controller, name).rmdir()
        raise SandboxError(f"cannot set up the sandbox's cgroup: {exc}") from exc


def give_job_priority(name: str) -> None:
    try:
        (_path("cpu", name) / "cpu.shares").write_text(str(JOB_CPU_SHARES))
    except OSError as exc:
        raise SandboxError(f"cannot raise the sandbox's CPU share: {exc}") from exc


def oom_killed(name: str) -> bool:
    try:
        control = (_path("memory", name) / "memory.oom_control").read_text()
    except OSError:
        return False
    counters = dict(line.split() for line in control.splitlines() if " " in line)
    return int(counters.get("oom_kill", "0")) > 0


async def remove(name: str, wait_s: float = 2.0) -> None:
    deadline = time.monotonic() + wait_s
    for controller in CONTROLLERS:
        path = _path(controller, name)
        while path.exists():
            try:
                path.rmdir()
            except FileNotFoundError:
                break
            except OSError:
                # Busy until the sandbox's last process has left it.
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)


def leftovers() -> list[str]:
    parent = CGROUP_ROOT / "memory" / PARENT
    return [path.name for path in parent.iterdir() if path.is_dir()] if parent.exists() else []
