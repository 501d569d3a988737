"""Hostile programs against the real service: every attack runs only inside a gVisor sandbox.

Nothing here executes a hostile program on the host: each one is a string sent over HTTP to the
service on 127.0.0.1, which runs it in a fresh sandbox container. The host only inspects the
service's answers, its health, its containers and its own disk.

Programs that probe the sandbox print their observations as one JSON object on their last line.
"""

import json
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import (
    ServiceProcess,
    free_port,
    owned_by,
    running,
    runsc_sandboxes_of,
    sandboxes_of,
    service_config,
)

from live import live_run
from runakode.sandboxes.ownership import LABEL_OWNER, LABEL_SANDBOX, Owner

CANARY_NAME = "SERVICE_CANARY_SECRET"
CANARY = f"canary-{uuid.uuid4().hex}"
JOB_TIMEOUT_S = 3.0
OUTPUT_MAX_BYTES = 65536
HEALTH_BUDGET_S = 1.0
# A misbehaving job must end within its deadline plus sandbox boot, kill and removal.
PROMPT_S = JOB_TIMEOUT_S + 6.0
DOCKER_DIR = "/var/lib/docker"
# Host disk space and inodes that may go while an attack runs (container metadata, logs, and
# whatever else this host does meanwhile): far below what the attacks themselves write.
DISK_SLACK_BYTES = 16 << 20
INODE_SLACK = 2000
FAILED_STATUSES = ("runtime_error", "timeout", "memory_limit", "output_limit")


@dataclass
class Outcome:
    result: dict[str, Any]
    elapsed_s: float

    @property
    def status(self) -> str:
        return str(self.result["status"])

    @property
    def stdout(self) -> str:
        return str(self.result["stdout"])

    def observed(self) -> dict[str, Any]:
        """The JSON object a probe printed on its last line."""
        assert self.stdout.strip(), self.result
        value: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return value


def program(source: str) -> str:
    return textwrap.dedent(source).strip() + "\n"


def health_latency(service: ServiceProcess) -> float:
    started = time.monotonic()
    response = httpx.get(f"{service.url}/health", timeout=HEALTH_BUDGET_S)
    latency = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert latency < HEALTH_BUDGET_S
    return latency


# The services whose jobs go through a live session (WebSocket /api/ws) instead of POST /api.
LIVE_URLS: set[str] = set()


def submit(service: ServiceProcess, code: str, language: str = "python") -> Outcome:
    if service.url in LIVE_URLS:
        return submit_live(service, code, language)
    started = time.monotonic()
    response = httpx.post(
        f"{service.url}/api",
        json={"language": language, "source_code": code},
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    # Strict JSON: whatever bytes the program wrote, the answer parses.
    result: dict[str, Any] = json.loads(response.text)
    assert set(result) >= {"stdout", "stderr", "exit_code", "timeout", "status", "truncated"}
    return Outcome(result, elapsed)


def submit_live(service: ServiceProcess, code: str, language: str) -> Outcome:
    """The same job as a live run, its stdin closed at once; the answer assembled as POST /api
    gives it (the service's note on an abnormal end on stderr)."""
    started = time.monotonic()
    with live_run(service.url, language=language, source_code=code) as run:
        run.send(type="close_stdin")
        result = run.finish(timeout_s=60)
    elapsed = time.monotonic() - started
    exits = run.exits()
    notes = [exit["message"] for exit in exits if exit.get("message")]
    stderr = run.stderr + "".join(f"runakode: {note}\n" for note in notes)
    truncated = result["truncated"] or any(exit["truncated"] for exit in exits)
    result = {**result, "stdout": run.stdout, "stderr": stderr, "truncated": truncated}
    return Outcome(result, elapsed)


def attack(service: ServiceProcess, code: str, language: str = "python") -> Outcome:
    """Run one hostile program, then check the service survived it."""
    outcome = submit(service, code, language)
    health_latency(service)
    return outcome


def attack_all(service: ServiceProcess, *codes: str) -> list[Outcome]:
    with ThreadPoolExecutor(len(codes)) as pool:
        return list(pool.map(lambda code: attack(service, code), codes))


def assert_hello_works(service: ServiceProcess, timeout_s: float = 30.0) -> None:
    response = httpx.post(
        f"{service.url}/api",
        json={"language": "python", "source_code": 'print("hello")'},
        timeout=timeout_s,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["status"], result["stdout"], result["exit_code"]) == ("ok", "hello\n", 0)


def sandboxes_given_jobs(service: ServiceProcess, since: float) -> tuple[set[str], set[str]]:
    """Containers of the service that ran a job since then, and those destroyed.

    A sandbox may be booted ahead of need and wait idle for a job (attached already, so that
    it ends with its worker); one that ran a job has died: its launcher ends with the job, or
    the service killed it.
    """
    assert service.proc is not None
    events = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{time.time():.3f}",
            "--filter",
            "type=container",
            "--filter",
            f"label={LABEL_SANDBOX}=1",
            "--format",
            "{{json .}}",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    ran, destroyed = set(), set()
    for line in events.splitlines():
        event = json.loads(line)
        owner = Owner.from_label(event["Actor"]["Attributes"].get(LABEL_OWNER, ""))
        if not owned_by(owner, service.proc.pid):
            continue
        if event["Action"] == "die":
            ran.add(event["Actor"]["ID"])
        elif event["Action"] == "destroy":
            destroyed.add(event["Actor"]["ID"])
    return ran, destroyed


def sandboxes_left_by_jobs(
    service: ServiceProcess, since: float, jobs: int, wait_s: float = 5.0
) -> set[str]:
    """Sandboxes that ran a job since then and still exist (removal may lag a moment); with
    the Docker backend, at least `jobs` of them must have ended."""
    if service.config.get("sandboxBackend") == "runsc":
        return runsc_sandboxes_beyond_the_pool(service, wait_s)
    deadline = time.monotonic() + wait_s
    while True:
        ran, destroyed = sandboxes_given_jobs(service, since)
        left = ran - destroyed
        # A sandbox goes after its answer, off the request path: its events may come later.
        if (len(ran) >= jobs and not left) or time.monotonic() > deadline:
            # Each job had a sandbox of its own (an earlier test's may also have died since).
            assert len(ran) >= jobs, f"{len(ran)} sandboxes ran the {jobs} jobs"
            return left
        time.sleep(0.1)
        time.sleep(0.3)


def runsc_sandboxes_beyond_the_pool(service: ServiceProcess, wait_s: float) -> set[str]:
    """runsc has no event log: once jobs are done, only the idle pool may still be running."""
    assert service.proc is not None
    idle_target = sum(service.config["sandboxPool"].values())
    deadline = time.monotonic() + wait_s
    while True:
        live = runsc_sandboxes_of(service.proc.pid)
        if len(live) <= idle_target or time.monotonic() > deadline:
            return set(live[idle_target:])
        time.sleep(0.3)


@contextmanager
def host_disk_watch() -> Iterator[dict[str, int]]:
    """The largest drop of free space and free inodes on Docker's disk while the block runs."""

    def sample() -> tuple[int, int]:
        return shutil.disk_usage(DOCKER_DIR).free, os.statvfs(DOCKER_DIR).f_favail

    base_bytes, base_inodes = sample()
    drops = {"bytes": 0, "inodes": 0}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            free_bytes, free_inodes = sample()
            drops["bytes"] = max(drops["bytes"], base_bytes - free_bytes)
            drops["inodes"] = max(drops["inodes"], base_inodes - free_inodes)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield drops
    finally:
        stop.set()
        watcher.join()


@pytest.fixture(
    scope="module",
    params=[("docker", "http"), ("runsc", "http"), ("docker", "live"), ("runsc", "live")],
    ids=["docker-http", "runsc-http", "docker-live", "runsc-live"],
)
def hostile(workdir: Path, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """The same attacks against each sandbox backend, through POST /api and through a live
    session (its stdin open while the program runs: another way in)."""
    backend, path = request.param
    config = service_config(
        port=free_port(),
        sandboxBackend=backend,
        sandboxPool={"python": 2, "go": 1},
        maxWorkers=4,
        jobCpu="0.5",
        jobMemory="256m",
        jobTimeout=f"{JOB_TIMEOUT_S:g}s",
        outputMaxBytes=OUTPUT_MAX_BYTES,
        shutdownGrace="5s",
        apiTimeout="60s",
    )
    with running("runakode", config, workdir, extra_env={CANARY_NAME: CANARY}) as service:
        service.wait_healthy()
        if path == "live":
            LIVE_URLS.add(service.url)
        yield service
        assert service.stop() == 0, service.logs()
        assert service.proc is not None
        # Idle sandboxes booted ahead of need go with the service, as do all others.
        assert sandboxes_of(service.proc.pid) == []


@pytest.fixture(autouse=True)
def service_survives(hostile: ServiceProcess) -> Iterator[None]:
    yield
    hostile.assert_running()
    health_latency(hostile)


# 1. Fork bombs ------------------------------------------------------------------------------


FORK_BOMB = program(
    """
    import os
    print("before the bomb", flush=True)
    while True:
        try:
            os.fork()
        except OSError:
            pass
    """
)

SHELL_FORK_BOMB = program(
    """
    import shutil, subprocess, time
    shell = shutil.which("bash") or shutil.which("sh")
    print("before the bomb", shell, flush=True)
    subprocess.run([shell, "-c", ":(){ :|:& };:"])
    time.sleep(60)
    """
)


@pytest.mark.parametrize("code", [FORK_BOMB, SHELL_FORK_BOMB], ids=["os_fork", "shell"])
def test_fork_bomb(hostile: ServiceProcess, code: str) -> None:
    outcome = attack(hostile, code)
    # RLIMIT_NPROC gives EAGAIN at 64 tasks; what ends the job then varies between runs: 64
    # Python copies overrun 256m (memory_limit), the whole sandbox dies (runtime_error, "brought
    # its sandbox down (exit status 2)"), or bash keeps retrying fork until the deadline (timeout).
    assert outcome.status in FAILED_STATUSES, outcome.result
    assert outcome.result["exit_code"] != 0
    assert outcome.stdout.startswith("before the bomb"), outcome.result
    assert outcome.elapsed_s < PROMPT_S
    assert_hello_works(hostile)


# 2. Memory balloons -------------------------------------------------------------------------


PYTHON_BALLOON = program(
    """
    print("allocating", flush=True)
    blocks = []
    while True:
        blocks.append(bytearray(32 << 20))
        print(len(blocks), flush=True)
    """
)

GO_BALLOON = program(
    """
    package main

    import "fmt"

    func main() {
        fmt.Println("allocating")
        var blocks [][]byte
        for {
            block := make([]byte, 32<<20)
            for i := range block {
                block[i] = 1
            }
            blocks = append(blocks, block)
            fmt.Println(len(blocks))
        }
    }
    """
)


@pytest.mark.parametrize(
    ("language", "code"), [("python", PYTHON_BALLOON), ("go", GO_BALLOON)], ids=["python", "go"]
)
def test_memory_balloon(hostile: ServiceProcess, language: str, code: str) -> None:
    outcome = attack(hostile, code, language)
    assert outcome.status == "memory_limit", outcome.result
    assert outcome.result["exit_code"] == 137
    assert outcome.result["timeout"] is False
    assert outcome.stdout.startswith("allocating\n1\n")
    # 256m holds at most 7 blocks of 32 MiB next to the runtime.
    assert int(outcome.stdout.split()[-1]) <= 8


# 3./4. Deadline -----------------------------------------------------------------------------


def test_sleep_past_deadline(hostile: ServiceProcess) -> None:
    outcome = attack(
        hostile,
        program(
            """
            import time
            print("before the sleep", flush=True)
            time.sleep(60)
            print("after the sleep")
            """
        ),
    )
    assert outcome.status == "timeout", outcome.result
    assert outcome.result["timeout"] is True
    assert outcome.stdout == "before the sleep\n"
    assert JOB_TIMEOUT_S <= outcome.elapsed_s < PROMPT_S


def test_busy_loop(hostile: ServiceProcess) -> None:
    outcome = attack(hostile, 'print("spinning", flush=True)\nwhile True:\n    pass\n')
    assert outcome.status == "timeout", outcome.result
    assert outcome.result["timeout"] is True
    assert outcome.stdout == "spinning\n"
    assert JOB_TIMEOUT_S <= outcome.elapsed_s < PROMPT_S


# 5. Output floods ---------------------------------------------------------------------------


FLOODS = {
    "stdout": ("stdout", 'import sys\nwhile True:\n    sys.stdout.write("o" * 4095 + "\\n")\n'),
    "stderr": ("stderr", 'import sys\nwhile True:\n    sys.stderr.write("e" * 4095 + "\\n")\n'),
    "one_line": ("stdout", 'import os\nline = b"z" * 65536\nwhile True:\n    os.write(1, line)\n'),
}


@pytest.mark.parametrize("flood", FLOODS)
def test_output_flood(hostile: ServiceProcess, flood: str) -> None:
    stream, code = FLOODS[flood]
    outcome = attack(hostile, code)
    assert outcome.status == "output_limit", outcome.result
    assert outcome.result["truncated"] is True
    flooded = outcome.result[stream]
    assert 0 < len(flooded.encode()) <= OUTPUT_MAX_BYTES
    other = outcome.result["stderr" if stream == "stdout" else "stdout"]
    assert other == ""
    if flood == "one_line":
        assert "\n" not in flooded
    assert outcome.elapsed_s < PROMPT_S


# 6. Disk and inodes -------------------------------------------------------------------------


DISK_FILL = program(
    """
    import errno, json, os, time
    chunk = b"d" * (1 << 20)
    seen = {}
    for directory in ("/work", "/tmp", "/dev/shm"):
        written = 0
        try:
            with open(os.path.join(directory, "fill.bin"), "wb", buffering=0) as f:
                while written < (1 << 30):
                    written += f.write(chunk)
            error = None
        except OSError as exc:
            error = errno.errorcode.get(exc.errno, str(exc.errno))
        # A second file: the size of the directory, beyond the per-file size limit.
        try:
            with open(os.path.join(directory, "more.bin"), "wb", buffering=0) as f:
                f.write(chunk)
            second = None
        except OSError as exc:
            second = errno.errorcode.get(exc.errno, str(exc.errno))
        seen[directory] = {"error": error, "mib": written >> 20, "second": second}
    print(json.dumps(seen), flush=True)
    time.sleep(1.5)  # hold all of it while the host looks at its disk
    """
)

INODE_FILL = program(
    """
    import errno, os
    directory = "/work/many"
    os.mkdir(directory)
    count = 0
    try:
        while True:
            os.close(os.open(f"{directory}/{count}", os.O_CREAT | os.O_WRONLY, 0o600))
            count += 1
            if count % 5000 == 0:
                print("files", count, flush=True)
    except OSError as exc:
        print("error", errno.errorcode.get(exc.errno, exc.errno), count, flush=True)
    """
)


def test_disk_fill(hostile: ServiceProcess) -> None:
    with host_disk_watch() as drop:
        outcome = attack(hostile, DISK_FILL)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    # /work holds main.py as well; /tmp reaches RLIMIT_FSIZE (64 MiB) and its size together.
    assert seen["/work"]["error"] == "ENOSPC" and 62 <= seen["/work"]["mib"] <= 64, seen
    assert seen["/tmp"]["error"] in ("ENOSPC", "EFBIG") and seen["/tmp"]["mib"] == 64, seen
    assert seen["/dev/shm"] == {"error": "ENOSPC", "mib": 16, "second": "ENOSPC"}, seen
    assert seen["/work"]["second"] == seen["/tmp"]["second"] == "ENOSPC", seen
    # About 143 MiB sat in the sandbox's directories for 1.5 s; none of it on the host's disk.
    assert drop["bytes"] < DISK_SLACK_BYTES, drop


def test_inode_exhaustion(hostile: ServiceProcess) -> None:
    with host_disk_watch() as drop:
        outcome = attack(hostile, INODE_FILL)
    # The sandbox's tmpfs has no inode count limit: each empty file costs sandbox memory
    # instead. About 10,000 files a second at 0.5 CPU: the 3 s deadline ends the job long
    # before the 256m memory limit would (about 100,000 files, measured with a 90 s deadline).
    assert outcome.status in ("timeout", "memory_limit"), outcome.result
    assert outcome.result["exit_code"] == 137
    created = int(outcome.stdout.split()[-1])
    assert created >= 5000, outcome.result
    # Had the files landed on the host's disk, its free inodes would have gone down as much.
    assert drop["inodes"] < INODE_SLACK, (drop, created)
    assert drop["bytes"] < DISK_SLACK_BYTES, drop


# 7. Detached daemons ------------------------------------------------------------------------


DAEMON_WRITING_A_FILE = program(
    """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            for i in range(30):
                with open("/tmp/daemon.log", "a") as log:
                    log.write(f"alive {i}\\n")
                time.sleep(1)
            os._exit(0)
        os._exit(0)
    os.wait()
    time.sleep(0.3)
    print("daemon started", os.path.exists("/tmp/daemon.log"), flush=True)
    """
)

DAEMON_HOLDING_STDOUT = program(
    """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(30)
            print("daemon still alive", flush=True)
            os._exit(0)
        os._exit(0)
    os.wait()
    print("parent done", flush=True)
    """
)


def test_detached_daemon_does_not_outlive_job(hostile: ServiceProcess) -> None:
    since = time.time()
    writing, holding = attack_all(hostile, DAEMON_WRITING_A_FILE, DAEMON_HOLDING_STDOUT)
    assert writing.status == "ok", writing.result
    assert writing.stdout == "daemon started True\n"
    assert holding.status == "ok", holding.result
    assert holding.stdout == "parent done\n"
    assert max(writing.elapsed_s, holding.elapsed_s) < PROMPT_S
    assert sandboxes_left_by_jobs(hostile, since, jobs=2) == set()
    leftover = attack(hostile, 'import os\nprint(os.path.exists("/tmp/daemon.log"))\n')
    assert leftover.stdout == "False\n"


# 8. Files left for the next job -------------------------------------------------------------


def test_files_left_for_next_job(hostile: ServiceProcess) -> None:
    planted = attack(
        hostile,
        program(
            """
            import os
            for directory in ("/tmp", "/work", "/dev/shm"):
                with open(f"{directory}/planted.txt", "w") as f:
                    f.write("from the previous job")
                os.mkdir(f"{directory}/planted-dir")
                os.symlink("/etc/passwd", f"{directory}/planted-link")
            print(sorted(os.listdir("/work")))
            """
        ),
    )
    assert planted.status == "ok", planted.result
    assert "planted.txt" in planted.stdout
    looked = attack(
        hostile,
        program(
            """
            import json, os
            print(json.dumps({d: sorted(os.listdir(d)) for d in ("/tmp", "/work", "/dev/shm")}))
            """
        ),
    )
    assert looked.status == "ok", looked.result
    assert looked.observed() == {"/tmp": [], "/work": ["main.py"], "/dev/shm": []}


# 9. The service's environment and host files ------------------------------------------------


def test_service_environment_and_host_files_are_invisible(
    hostile: ServiceProcess, workdir: Path
) -> None:
    paths = {
        "config": str(hostile.config_path.resolve()),
        "log": str(hostile.log_path.resolve()),
        "workdir": str(workdir.resolve()),
        "repo": "/work/main",
        "ssh": "/root/.ssh",
        "docker_sock": "/var/run/docker.sock",
        "docker_dir": "/var/lib/docker",
    }
    code = program(
        f"""
        import glob, json, os
        paths = {paths!r}
        environs = {{}}
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                environs[path] = open(path, "rb").read().decode(errors="replace")
            except OSError as exc:
                environs[path] = f"error {{exc.errno}}"
        print(json.dumps({{
            "environ": dict(os.environ),
            "proc_environs": environs,
            "exists": {{name: os.path.lexists(path) for name, path in paths.items()}},
            "hostname": open("/etc/hostname").read().strip(),
            "mountinfo": open("/proc/self/mountinfo").read(),
            "pid1_cmdline": open("/proc/1/cmdline", "rb").read().decode().split("\\0"),
        }}))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    # The program never got the canary: it can only have read it from its surroundings.
    assert CANARY not in outcome.stdout and CANARY_NAME not in outcome.stdout
    assert sorted(seen["environ"]) == ["HOME", "HOSTNAME", "LANG", "PATH", "TMPDIR"]
    assert "/proc/1/environ" in seen["proc_environs"]
    assert "RUNAKODE" not in json.dumps(seen["proc_environs"])
    assert not any(seen["exists"].values()), seen["exists"]
    host_hostname = Path("/etc/hostname").read_text().strip()
    assert seen["hostname"] not in (host_hostname, socket.gethostname())
    for host_path in (*paths.values(), str(Path.cwd()), "/home"):
        assert host_path not in seen["mountinfo"], host_path
    assert seen["pid1_cmdline"][:4] == ["python3", "-I", "-S", "/opt/runakode/launcher.py"]


# 10. Root and capabilities ------------------------------------------------------------------


def test_root_and_capabilities(hostile: ServiceProcess) -> None:
    code = program(
        """
        import ctypes, errno, json, os
        libc = ctypes.CDLL(None, use_errno=True)
        status = dict(
            line.split(":", 1) for line in open("/proc/self/status") if line.startswith("Cap")
        )
        attempts = {}
        for name, call in {
            "setuid": lambda: os.setuid(0),
            "seteuid": lambda: os.seteuid(0),
            "setresuid": lambda: os.setresuid(0, 0, 0),
            "setgid": lambda: os.setgid(0),
            "setgroups": lambda: os.setgroups([0]),
            "chown": lambda: os.chown("/work/main.py", 0, 0),
        }.items():
            try:
                call()
                attempts[name] = "succeeded"
            except OSError as exc:
                attempts[name] = errno.errorcode.get(exc.errno, str(exc.errno))
        print(json.dumps({
            "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()],
            "caps": {key: value.strip() for key, value in status.items()},
            "no_new_privs": libc.prctl(39, 0, 0, 0, 0),  # PR_GET_NO_NEW_PRIVS
            "attempts": attempts,
        }))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    assert seen["ids"] == [10001, 10001, 10001, 10001, [10001]]
    assert seen["caps"]["CapEff"] == "0000000000000000"
    assert set(seen["caps"].values()) == {"0000000000000000"}, seen["caps"]
    assert seen["no_new_privs"] == 1
    assert set(seen["attempts"].values()) == {"EPERM"}, seen["attempts"]


# 11. Docker socket --------------------------------------------------------------------------


def test_docker_socket_is_absent(hostile: ServiceProcess) -> None:
    code = program(
        """
        import errno, json, os, socket
        seen = {}
        for path in ("/var/run/docker.sock", "/run/docker.sock",
                     "/run/containerd/containerd.sock", "/var/run/docker"):
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.connect(path)
                seen[path] = "connected"
            except OSError as exc:
                seen[path] = errno.errorcode.get(exc.errno, str(exc.errno))
            finally:
                sock.close()
        seen["lexists"] = [p for p in ("/var/run/docker.sock", "/run/docker.sock")
                           if os.path.lexists(p)]
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    assert seen.pop("lexists") == []
    assert set(seen.values()) == {"ENOENT"}, seen


# 12. Network --------------------------------------------------------------------------------


def test_network_broker_service_and_names_unreachable(hostile: ServiceProcess) -> None:
    code = program(
        f"""
        import errno, json, os, socket
        seen = {{"connect": {{}}, "resolve": {{}}}}
        for port in (5672, 8080, {hostile.port}):
            sock = socket.socket()
            sock.settimeout(2)
            try:
                sock.connect(("127.0.0.1", port))
                seen["connect"][str(port)] = "connected"
            except OSError as exc:
                seen["connect"][str(port)] = errno.errorcode.get(exc.errno, str(exc))
            finally:
                sock.close()
        for name in ("localhost", "example.com"):
            try:
                seen["resolve"][name] = socket.gethostbyname(name)
            except OSError as exc:
                seen["resolve"][name] = type(exc).__name__
        seen["interfaces"] = [name for _, name in socket.if_nameindex()]
        seen["sys_class_net"] = sorted(os.listdir("/sys/class/net"))
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    # Loopback of the sandbox's own network stack: nothing listens there.
    assert set(seen["connect"].values()) == {"ECONNREFUSED"}, seen["connect"]
    assert seen["resolve"]["example.com"] == "gaierror"
    assert seen["resolve"]["localhost"] in ("gaierror", "127.0.0.1")
    assert seen["interfaces"] in ([], ["lo"])
    assert seen["sys_class_net"] in ([], ["lo"])


# 13. Killing every process ------------------------------------------------------------------


def test_kill_minus_one(hostile: ServiceProcess) -> None:
    from_python, from_shell = attack_all(
        hostile,
        program(
            """
            import errno, os, signal
            print("before kill", flush=True)
            try:
                os.kill(-1, signal.SIGKILL)
                print("kill(-1) returned", flush=True)
            except OSError as exc:
                print("kill(-1)", errno.errorcode[exc.errno], flush=True)
            print("still alive", flush=True)
            """
        ),
        program(
            """
            import subprocess
            print("before kill", flush=True)
            subprocess.run(["sh", "-c", "kill -9 -1"])
            print("still alive", flush=True)
            """
        ),
    )
    # kill(-1) spares PID 1 (the launcher) and the caller: it only reaches the program's spawn
    # helper, and the launcher then follows the program itself to its end.
    assert from_python.status == "ok", from_python.result
    assert from_python.stdout == "before kill\nkill(-1) returned\nstill alive\n"
    # From a child shell, kill(-1) reaches the program itself.
    assert from_shell.status == "runtime_error", from_shell.result
    assert from_shell.result["exit_code"] == 137
    assert from_shell.stdout == "before kill\n"
    assert_hello_works(hostile)


def test_kill_launcher_pid1(hostile: ServiceProcess) -> None:
    outcome = attack(
        hostile,
        program(
            """
            import os, signal, time
            print("before kill", flush=True)
            time.sleep(0.3)
            os.kill(1, signal.SIGKILL)
            time.sleep(1)
            print("launcher survived", flush=True)
            """
        ),
    )
    # gVisor lets the program SIGKILL its launcher (same uid): the sandbox goes down with it.
    assert outcome.status == "runtime_error", outcome.result
    assert outcome.result["exit_code"] == 137
    assert outcome.stdout == "before kill\n"
    assert "brought its sandbox down" in outcome.result["stderr"]
    assert outcome.elapsed_s < PROMPT_S
    assert_hello_works(hostile)


# 14. Mount, unshare, ptrace -----------------------------------------------------------------


CTYPES_PRELUDE = """
import ctypes, errno, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
seen = {}
def call(label, name, *args):
    result = getattr(libc, name)(*args)
    seen[label] = "ok" if result != -1 else errno.errorcode.get(ctypes.get_errno(), "?")
def command(label, *argv):
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seen[label] = [done.returncode, done.stdout.strip(), done.stderr.strip()]
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x20000, 0x10000000, 0x40000000
"""


def test_mount_is_refused(hostile: ServiceProcess) -> None:
    code = CTYPES_PRELUDE + program(
        """
        call("mount_tmpfs", "mount", b"none", b"/work", b"tmpfs", 0, None)
        call("mount_proc", "mount", b"proc", b"/tmp", b"proc", 0, None)
        command("mount_command", "mount", "-t", "tmpfs", "none", "/mnt")
        command("umount_command", "umount", "/tmp")
        # Even after trying to become root of a user namespace (see test_unshare_is_refused).
        call("unshare_user", "unshare", CLONE_NEWUSER)
        call("unshare_mount", "unshare", CLONE_NEWNS)
        call("mount_in_userns", "mount", b"none", b"/mnt", b"tmpfs", 0, None)
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    assert seen["mount_tmpfs"] == seen["mount_proc"] == seen["mount_in_userns"] == "EPERM", seen
    assert seen["mount_command"][0] != 0 and seen["umount_command"][0] != 0, seen


def test_unshare_is_refused(hostile: ServiceProcess) -> None:
    code = CTYPES_PRELUDE + program(
        """
        command("unshare_command", "unshare", "-Ur", "id")
        command("unshare_net_command", "unshare", "-Urn", "true")
        call("unshare_net", "unshare", CLONE_NEWNET)
        call("unshare_user", "unshare", CLONE_NEWUSER)
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    # Refused by the sandbox's seccomp profile (src/runakode/sandboxes/seccomp.py): without it,
    # gVisor lets an unprivileged program become root of a user namespace of its own.
    assert seen["unshare_net"] == "EPERM", seen
    assert seen["unshare_command"][0] != 0, seen
    assert "Operation not permitted" in seen["unshare_command"][2], seen
    assert seen["unshare_net_command"][0] != 0, seen
    assert seen["unshare_user"] == "EPERM", seen


RAW_SYSCALL_PRELUDE = CTYPES_PRELUDE + program(
    """
    import threading
    libc.syscall.restype = ctypes.c_long
    SYS_CLONE, SYS_PIVOT_ROOT, SYS_MOUNT, SYS_UMOUNT2, SYS_UNSHARE, SYS_SETNS, SYS_CLONE3 = (
        56, 155, 165, 166, 272, 308, 435
    )
    SIGCHLD = 17
    def raw(label, number, *args):
        result = libc.syscall(number, *(ctypes.c_long(arg) for arg in args))
        if number == SYS_CLONE and result == 0:
            os._exit(0)  # the child: clone(2) without a new stack returns here, as fork does
        if number == SYS_CLONE and result > 0:
            os.waitpid(result, 0)
        seen[label] = "ok" if result != -1 else errno.errorcode.get(ctypes.get_errno(), "?")
    """
)


def test_namespace_calls_are_refused_and_threads_still_start(hostile: ServiceProcess) -> None:
    code = RAW_SYSCALL_PRELUDE + program(
        """
        # Arguments the kernel would accept or reject with another errno: only the seccomp
        # profile answers EPERM to them (without it, unshare(0) succeeds, setns(-1) says
        # ENOTSUP and pivot_root(NULL) EFAULT under this gVisor).
        raw("unshare_nothing", SYS_UNSHARE, 0)
        raw("setns", SYS_SETNS, -1, 0)
        raw("mount", SYS_MOUNT, 0, 0, 0, 0, 0)
        raw("umount2", SYS_UMOUNT2, 0, 0)
        raw("pivot_root", SYS_PIVOT_ROOT, 0, 0)
        namespaces = {"NS": 0x20000, "CGROUP": 0x2000000, "UTS": 0x4000000, "IPC": 0x8000000,
                      "USER": 0x10000000, "PID": 0x20000000, "NET": 0x40000000}
        for name, flag in namespaces.items():
            raw(f"clone_new{name.lower()}", SYS_CLONE, flag | SIGCHLD, 0, 0, 0, 0)
        # clone(2) without a namespace flag still starts processes and threads.
        raw("clone_plain", SYS_CLONE, SIGCHLD, 0, 0, 0, 0)
        started = []
        threads = [threading.Thread(target=started.append, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seen["threads"] = sorted(started)
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        seen["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        command("subprocess", "sh", "-c", "echo from a child")
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    refused = ("unshare_nothing", "setns", "mount", "umount2", "pivot_root")
    assert {label: seen[label] for label in refused} == dict.fromkeys(refused, "EPERM"), seen
    clones = {label: value for label, value in seen.items() if label.startswith("clone_new")}
    assert len(clones) == 7 and set(clones.values()) == {"EPERM"}, seen
    assert seen["clone_plain"] == "ok", seen
    assert seen["threads"] == [0, 1, 2, 3], seen
    assert seen["fork"] == 7, seen
    assert seen["subprocess"] == [0, "from a child", ""], seen


def test_clone3_is_not_implemented(hostile: ServiceProcess) -> None:
    code = RAW_SYSCALL_PRELUDE + program(
        """
        raw("clone3", SYS_CLONE3, 0, 0)
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    answer = outcome.observed()["clone3"]
    # The seccomp profile leaves clone3 unfiltered because refusing it breaks threads under this
    # runsc, which does not implement clone3. A runsc that does (a newer one answers EINVAL here)
    # lets a program create namespaces through clone3 past the profile's clone(2) rules.
    assert answer == "ENOSYS", (
        f"clone3 answered {answer}, not ENOSYS: this runsc implements clone3, so the seccomp "
        "profile (src/runakode/sandboxes/seccomp.py) leaves a hole: namespaces can be created "
        "through clone3. Close it before using this runsc."
    )


def test_ptrace_is_refused(hostile: ServiceProcess) -> None:
    code = CTYPES_PRELUDE + program(
        """
        PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE = 0, 16, 0x4206
        call("attach_pid1", "ptrace", PTRACE_ATTACH, 1, None, None)
        call("seize_pid1", "ptrace", PTRACE_SEIZE, 1, None, None)
        seen["parent"] = os.getppid()
        # The program's parent is its spawn helper, which reports its usage to the launcher.
        call("attach_parent", "ptrace", PTRACE_ATTACH, os.getppid(), None, None)
        for path in ("/proc/1/mem", "/proc/1/root/etc"):
            try:
                os.close(os.open(path, os.O_RDONLY))
                seen[path] = "opened"
            except OSError as exc:
                seen[path] = errno.errorcode.get(exc.errno, "?")
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    assert seen["parent"] > 1
    assert seen["attach_pid1"] == seen["seize_pid1"] == seen["attach_parent"] == "EPERM", seen
    assert seen["/proc/1/mem"] == seen["/proc/1/root/etc"] == "EACCES", seen


# 15. Links planted in the writable directories ----------------------------------------------


def test_links_planted_in_work_dirs(hostile: ServiceProcess) -> None:
    marker = f"pwned-{uuid.uuid4().hex[:12]}"
    code = program(
        f"""
        import errno, json, os
        seen = {{}}
        def attempt(label, action):
            try:
                seen[label] = action()
            except OSError as exc:
                seen[label] = errno.errorcode.get(exc.errno, str(exc.errno))
        def write(path):
            with open(path, "a") as f:
                return f.write("pwned")
        targets = {{
            "passwd": "/etc/passwd",
            "pid1_root": "/proc/1/root",
            "docker": "/var/run/docker.sock",
            "host_tmp": "/tmp/{marker}",
            "pid1_tmp": "/proc/1/root/tmp/{marker}",
        }}
        for directory in ("/work", "/tmp"):
            for name, target in targets.items():
                os.symlink(target, f"{{directory}}/link-{{name}}")
        attempt("read_passwd", lambda: open("/work/link-passwd").read().startswith("root:"))
        attempt("write_passwd", lambda: write("/work/link-passwd"))
        attempt("list_pid1_root", lambda: os.listdir("/tmp/link-pid1_root"))
        attempt("write_pid1_root", lambda: write("/work/link-pid1_root/tmp/{marker}"))
        attempt("write_pid1_tmp", lambda: write("/work/link-pid1_tmp"))
        attempt("open_docker", lambda: open("/work/link-docker").read())
        attempt("write_host_tmp", lambda: write("/work/link-host_tmp"))
        attempt("hardlink_passwd", lambda: os.link("/etc/passwd", "/work/hard-passwd"))
        attempt("hardlink_launcher", lambda: os.link("/opt/runakode/launcher.py", "/tmp/hard-l"))
        attempt("write_launcher", lambda: write("/opt/runakode/launcher.py"))
        print(json.dumps(seen))
        """
    )
    outcome = attack(hostile, code)
    assert outcome.status == "ok", outcome.result
    seen = outcome.observed()
    assert seen["read_passwd"] is True
    for label in ("write_passwd", "list_pid1_root", "write_pid1_root", "write_pid1_tmp"):
        assert seen[label] == "EACCES", (label, seen)
    assert seen["open_docker"] == "ENOENT", seen
    # Through the link the write lands in the sandbox's own /tmp, a tmpfs in its memory.
    assert seen["write_host_tmp"] == 5, seen
    assert seen["hardlink_passwd"] in ("EXDEV", "EPERM"), seen
    assert seen["hardlink_launcher"] in ("EXDEV", "EPERM"), seen
    assert seen["write_launcher"] == "EACCES", seen

    with ThreadPoolExecutor(1) as pool:
        next_job = pool.submit(
            attack,
            hostile,
            program(
                f"""
                import json, os
                print(json.dumps({{
                    "work": sorted(os.listdir("/work")),
                    "tmp": sorted(os.listdir("/tmp")),
                    "marker": os.path.lexists("/tmp/{marker}"),
                    "passwd_intact": "pwned" not in open("/etc/passwd").read(),
                }}))
                """
            ),
        )
        # Meanwhile, the whole host file system: nothing named after the marker appeared.
        found = subprocess.run(
            ["find", "/", "-xdev", "-name", f"{marker}*"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        follow_up = next_job.result()
    assert found == ""
    for path in (f"/tmp/{marker}", f"/{marker}", f"/var/tmp/{marker}"):
        assert not Path(path).exists(), path
    assert follow_up.status == "ok", follow_up.result
    assert follow_up.observed() == {
        "work": ["main.py"],
        "tmp": [],
        "marker": False,
        "passwd_intact": True,
    }


# 16. Bytes that are not UTF-8 ---------------------------------------------------------------


def test_non_utf8_and_nul_bytes(hostile: ServiceProcess) -> None:
    outcome = attack(
        hostile,
        program(
            r"""
            import sys
            sys.stdout.buffer.write(b"a\xff\xfe\x00b\n")
            sys.stdout.flush()
            sys.stderr.buffer.write(b"\x00c\xc3\x28\xed\xa0\x80\n")
            """
        ),
    )
    assert outcome.status == "ok", outcome.result
    assert outcome.stdout == "a\ufffd\ufffd\x00b\n"
    # Invalid continuation and a UTF-8-encoded surrogate: replaced, never passed through.
    assert outcome.result["stderr"] == "\x00c\ufffd(\ufffd\ufffd\ufffd\n"


# 17. Many hostile programs at once ----------------------------------------------------------


def test_hostile_programs_at_once_leave_service_responsive(hostile: ServiceProcess) -> None:
    programs: dict[str, Callable[[], Outcome]] = {
        "fork_bomb": lambda: submit(hostile, FORK_BOMB),
        "busy_loop": lambda: submit(hostile, "while True:\n    pass\n"),
        "balloon": lambda: submit(hostile, PYTHON_BALLOON),
        "flood": lambda: submit(hostile, FLOODS["stdout"][1]),
    }
    latencies = []
    with ThreadPoolExecutor(len(programs) + 1) as pool:
        running_jobs = {name: pool.submit(job) for name, job in programs.items()}
        time.sleep(0.5)
        hello = pool.submit(assert_hello_works, hostile, 30.0)
        while not all(job.done() for job in running_jobs.values()) or len(latencies) < 5:
            latencies.append(health_latency(hostile))
            time.sleep(0.25)
        outcomes = {name: job.result() for name, job in running_jobs.items()}
        hello.result()
    assert max(latencies) < HEALTH_BUDGET_S, latencies
    assert outcomes["fork_bomb"].status in FAILED_STATUSES, outcomes["fork_bomb"].result
    assert outcomes["busy_loop"].status == "timeout", outcomes["busy_loop"].result
    assert outcomes["balloon"].status == "memory_limit", outcomes["balloon"].result
    assert outcomes["flood"].status == "output_limit", outcomes["flood"].result


# Beyond the list: the program shares its uid with the launcher ------------------------------


FORGED_FRAMES = program(
    """
    import json, os, struct
    frame = struct.Struct(">cI")
    report = json.dumps({"exit_code": 0, "signal": None, "time_ms": 1, "timed_out": False,
                         "output_limit": False, "truncated": False}).encode()
    text = b"forged output\\n"
    # The launcher's stdout is the sandbox's output stream to the service.
    try:
        fd = os.open("/proc/1/fd/1", os.O_WRONLY)
        os.write(fd, frame.pack(b"1", len(text)) + text + frame.pack(b"R", len(report)) + report)
    except OSError as exc:
        print("blocked", exc.errno)
    raise SystemExit(3)
    """
)

FORGED_LAUNCHER_ERROR = program(
    """
    import os, struct
    message = b"launcher exploded"
    try:
        fd = os.open("/proc/1/fd/1", os.O_WRONLY)
        os.write(fd, struct.pack(">cI", b"X", len(message)) + message)
    except OSError as exc:
        print("blocked", exc.errno)
    raise SystemExit(3)
    """
)


def test_forged_launcher_frames(hostile: ServiceProcess) -> None:
    forged_ok, forged_error = attack_all(hostile, FORGED_FRAMES, FORGED_LAUNCHER_ERROR)
    # gVisor lets the program open /proc/1/fd/1, but its frames lack the job's secret token:
    # the host sees a corrupted stream, never a forged result.
    for outcome in (forged_ok, forged_error):
        assert outcome.status == "runtime_error", outcome.result
        assert "forged output" not in outcome.stdout
        assert "corrupted the sandbox's output" in outcome.result["stderr"]


FORGED_CONTROLS = program(
    """
    import os, struct, time
    try:
        fd = os.open("/proc/1/fd/0", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        print("refused", exc.errno, flush=True)
    else:
        print("opened", flush=True)
        try:
            # A header claiming a 4 GiB stdin frame: not the host's framing.
            os.write(fd, b"i" + struct.pack(">I", 0xFFFFFFFF))
        except OSError as exc:
            print("write refused", exc.errno, flush=True)
        time.sleep(2)
        print("still here", flush=True)
    """
)


def test_forged_frames_on_the_launchers_stdin(hostile: ServiceProcess) -> None:
    """The launcher's stdin carries a live session's input; the program may reach it through
    /proc/1/fd/0. Whatever it writes there concerns its own run only: in a live session the
    launcher stops trusting its input and ends the run; otherwise it no longer reads it."""
    outcome = attack(hostile, FORGED_CONTROLS)
    written = outcome.stdout.startswith("opened") and "write refused" not in outcome.stdout
    if written and hostile.url in LIVE_URLS:
        assert outcome.status == "runtime_error", outcome.result
        assert "still here" not in outcome.stdout
        assert outcome.elapsed_s < PROMPT_S
    else:
        assert outcome.status == "ok", outcome.result
        assert outcome.stdout.endswith("still here\n") or outcome.stdout.startswith("refused")
    assert_hello_works(hostile)
