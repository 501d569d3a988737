import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import yaml

from runakode.sandboxes.ownership import LABEL_OWNER, LABEL_SANDBOX, Owner

BIN = Path(sys.executable).parent
RABBITMQ_URL = "amqp://guest:guest@localhost:5672/"
# Every queue this test run declares starts with it, so the run can delete them all at its end.
QUEUE_PREFIX = f"test_{uuid.uuid4().hex[:8]}_"
# Each config gets a store of its own (API and workers of one config share it).
STORES_DIR = Path(tempfile.mkdtemp(prefix="runakode-stores-"))
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_config(**overrides: Any) -> dict[str, Any]:
    """A config for tests: short deadlines, small outputs, rate limiting off."""
    config: dict[str, Any] = {
        "address": "127.0.0.1",
        "supportedLanguages": ["python", "go"],
        "apiTimeout": "30s",
        "maxWorkers": 2,
        "jobMemory": "256m",
        "jobTimeout": "3s",
        "outputMaxBytes": 4096,
        "shutdownGrace": "10s",
        "workerPort": free_port(),
        "rateLimit": {"requestsPerSecond": 0, "burst": 0},
        "rabbitmq": {"url": RABBITMQ_URL, "queue": f"{QUEUE_PREFIX}jobs_{uuid.uuid4().hex[:8]}"},
        "store": {"url": f"sqlite:///{STORES_DIR}/{uuid.uuid4().hex[:8]}.db"},
        # Never the repository's data/: a test's compiles are its own config's.
        "compileCache": {"dir": str(STORES_DIR / f"compiled-{uuid.uuid4().hex[:8]}")},
    }
    config.update(overrides)
    return config


class ServiceProcess:
    """One of the console scripts, started for real as a child process with its own config."""

    def __init__(
        self,
        program: str,
        config: dict[str, Any],
        workdir: Path,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.program = program
        self.config = config
        # Added after RUNAKODE_* variables are stripped, e.g. a canary a sandbox must not see.
        self.extra_env = dict(extra_env or {})
        self.port = int(config.get("port") or 0)
        name = f"{program}-{uuid.uuid4().hex[:6]}"
        self.config_path = workdir / f"{name}.yaml"
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServiceProcess":
        env = {key: value for key, value in os.environ.items() if not key.startswith("RUNAKODE_")}
        env.update(self.extra_env)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / self.program), "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.program} not healthy in {timeout_s} s:\n{self.logs()}")

    def wait_log(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.logs():
                return
            self.assert_running()
            time.sleep(0.2)
        raise AssertionError(f"{self.program} never logged {text!r}:\n{self.logs()}")

    def assert_running(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.program} exited {self.proc.returncode}:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.program} ignored signal {sig}:\n{self.logs()}") from None


@contextmanager
def running(
    program: str,
    config: dict[str, Any],
    workdir: Path,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(program, config, workdir, extra_env).start()
    try:
        yield service
    finally:
        service.stop()


RUNSC_ROOT = Path("/run/runakode/runsc")


def docker_sandboxes_of(pid: int) -> list[str]:
    """Names of the Docker sandbox containers a process of this host owns, from their labels."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL_SANDBOX}=1", "--format", "{{json .}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = []
    for line in out.splitlines():
        row = json.loads(line)
        label = next(
            (
                part.split("=", 1)[1]
                for part in row["Labels"].split(",")
                if part.startswith(f"{LABEL_OWNER}=")
            ),
            "",
        )
        if owned_by(Owner.from_label(label), pid):
            names.append(row["Names"])
    return names


def owned_by(owner: Owner | None, pid: int) -> bool:
    """Whether owner is the process pid of this host (running or not)."""
    return owner is not None and owner.is_local and owner.pid == pid


def runsc_sandboxes_of(pid: int) -> list[str]:
    """Ids of the sandboxes the runsc backend of a process runs (its pid is in their ids)."""
    if not RUNSC_ROOT.exists():
        return []
    out = subprocess.run(
        ["runsc", "--root", str(RUNSC_ROOT), "list", "-format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    entries = json.loads(out or "null") or []
    return [e["id"] for e in entries if owned_by(Owner.from_sandbox_id(str(e["id"])), pid)]


def sandboxes_of(pid: int) -> list[str]:
    """Every sandbox a process of this host owns, whichever backend started it."""
    return docker_sandboxes_of(pid) + runsc_sandboxes_of(pid)


async def dead_letters(queue: str, expected: int, timeout_s: float = 10) -> list[bytes]:
    """Take up to `expected` messages from `<queue>.dead`, waiting at most timeout_s for them."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    bodies: list[bytes] = []
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        deadline = time.monotonic() + timeout_s
        while len(bodies) < expected and time.monotonic() < deadline:
            message = await dead.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            bodies.append(message.body)
    return bodies


def submit_judge0(
    service: ServiceProcess, body: dict[str, Any], query: str = "", timeout_s: float = 60
) -> httpx.Response:
    return httpx.post(f"{service.url}/submissions?{query}", json=body, timeout=timeout_s)


def wait_judge0(
    service: ServiceProcess, token: str, query: str = "fields=*", timeout_s: float = 90
) -> dict[str, Any]:
    """Poll a submission as Judge0's clients do until it has ended."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{service.url}/submissions/{token}?{query}", timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"]["id"] > 2:
            return body
        time.sleep(0.2)
    raise AssertionError(f"submission {token} still {body.get('status')} after {timeout_s} s")


@dataclass
class Deployment:
    """runakode-api and its runakode-worker processes, sharing one config."""

    api: ServiceProcess
    workers: list[ServiceProcess]

    def stop(self) -> list[int]:
        """Stop the API, then each worker: their exit statuses, in that order."""
        return [self.api.stop(), *(worker.stop() for worker in self.workers)]

    def logs(self) -> str:
        return self.api.logs() + "".join(worker.logs() for worker in self.workers)


@contextmanager
def split_deployment(
    config: dict[str, Any], workdir: Path, workers: int = 2
) -> Iterator[Deployment]:
    """Workers first (each with its own status port), then the API; all ready when yielded,
    all stopped afterwards (a test asserts their exit statuses if it cares)."""
    deployment = Deployment(
        ServiceProcess("runakode-api", config, workdir),
        [
            ServiceProcess("runakode-worker", {**config, "workerPort": free_port()}, workdir)
            for _ in range(workers)
        ],
    )
    for worker in deployment.workers:
        worker.start()
    deployment.api.start()
    try:
        for worker in deployment.workers:
            worker.wait_log("worker pool ready")
        deployment.api.wait_healthy()
        yield deployment
    finally:
        deployment.stop()


def queues_starting_with(prefix: str) -> list[str]:
    """The RabbitMQ queues whose names start with prefix (AMQP itself cannot list queues)."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.startswith(prefix)]


async def delete_queues(names: Iterable[str]) -> None:
    """Delete these queues, with any messages they hold; a missing one is no error."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)
