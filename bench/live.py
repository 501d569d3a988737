"""Live runs over the native WebSocket: how soon a program's output reaches the client, and how
many live sessions one worker holds, with what memory.

Latency is one-way: the program prints the wall clock (time.time()) and flushes, the client
subtracts it from its own clock when the line arrives. gVisor's clock is the host's, so both
read the same clock. Baseline: the same program under one `docker run -i --runtime=runsc`,
its stdout read through the pipe as it is written.
"""

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from bench import docker, memory
from bench.service import Service, free_port
from bench.stats import percentile

TICK_INTERVAL_S = 0.02
# Prints the time, flushed, every TICK_INTERVAL_S; then waits for a line and echoes it.
TICKER = (
    "import sys, time\n"
    "for _ in range({lines}):\n"
    "    print(repr(time.time()), flush=True)\n"
    f"    time.sleep({TICK_INTERVAL_S})\n"
)
WAITER = 'import sys\nprint("ready", flush=True)\nprint("echo", sys.stdin.readline().strip())\n'


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/api/ws"


def _deltas_ms(text: str, received_at: float) -> list[float]:
    return [(received_at - float(line)) * 1000 for line in text.splitlines() if line.strip()]


def service_latency(url: str, lines: int) -> dict[str, Any]:
    """Write-to-receive delays of one live run's lines, through the service."""
    deltas: list[float] = []
    pending = ""
    with connect(ws_url(url), open_timeout=30, max_size=4 << 20) as ws:
        source = TICKER.format(lines=lines)
        ws.send(json.dumps({"type": "run", "language": "python", "source_code": source}))
        while True:
            frame = json.loads(ws.recv(timeout=60))
            received_at = time.time()
            if frame["type"] == "output" and frame["stream"] == "stdout":
                pending += frame["data"]
                complete, _, pending = pending.rpartition("\n")
                deltas += _deltas_ms(complete, received_at)
            elif frame["type"] == "finished":
                break
            elif frame["type"] == "error":
                raise RuntimeError(f"live run refused: {frame}")
    return _latency_figures(deltas, lines)


def baseline_latency(image: str, lines: int) -> dict[str, Any]:
    """The same program's lines through `docker run -i`'s stdout pipe."""
    cmd = ["docker", "run", "--rm", "-i", "--runtime=runsc", "--network=none"]
    cmd += ["--security-opt", docker.security_opt(), "-u", "10001:10001", image]
    cmd += ["python3", "-c", TICKER.format(lines=lines)]
    deltas: list[float] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        for line in process.stdout:
            deltas += _deltas_ms(line.decode(), time.time())
    return _latency_figures(deltas, lines)


def _latency_figures(deltas: list[float], lines: int) -> dict[str, Any]:
    return {
        "lines": lines,
        "received": len(deltas),
        "p50_ms": round(percentile(deltas, 50), 2),
        "p99_ms": round(percentile(deltas, 99), 2),
        "max_ms": round(max(deltas, default=float("nan")), 2),
    }


class _HeldSession(threading.Thread):
    """One live run that says it is ready, then waits for its line and echoes it."""

    def __init__(self, url: str, index: int, go: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.index, self.go = url, index, go
        self.ready = threading.Event()
        self.echoed = False
        self.error = ""

    def run(self) -> None:
        try:
            with connect(ws_url(self.url), open_timeout=60) as ws:
                request = {"type": "run", "language": "python", "source_code": WAITER}
                ws.send(json.dumps(request))
                stdout = ""
                while "ready" not in stdout:
                    stdout += _output_of(json.loads(ws.recv(timeout=120)))
                self.ready.set()
                self.go.wait()
                ws.send(json.dumps({"type": "stdin", "data": f"{self.index}\n"}))
                while True:
                    frame = json.loads(ws.recv(timeout=60))
                    stdout += _output_of(frame)
                    if frame["type"] == "finished":
                        break
                self.echoed = f"echo {self.index}\n" in stdout
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.ready.set()


def _output_of(frame: dict[str, Any]) -> str:
    if frame["type"] == "error":
        raise RuntimeError(frame["message"])
    return str(frame["data"]) if frame["type"] == "output" else ""


def hold_sessions(url: str, count: int, worker: Service) -> dict[str, Any]:
    """`count` live sessions at once on one worker: all waiting for stdin together, then all
    answered. Memory is measured while all of them wait."""
    mem_before = memory.mem_available_bytes()
    go = threading.Event()
    started = time.monotonic()
    held = [_HeldSession(url, index, go) for index in range(count)]
    for session in held:
        session.start()
    for session in held:
        session.ready.wait(180)
    ready_s = time.monotonic() - started
    waiting = sum(1 for s in held if s.ready.is_set() and not s.error)
    assert worker.probe is not None
    running = [s for s in worker.probe.owned() if s.running]
    sandbox_memory = memory.summary(memory.measure_sandboxes(worker.probe, running))
    drop = mem_before - memory.mem_available_bytes()
    worker_pss = memory.pss_bytes(worker.pid)
    go.set()
    for session in held:
        session.join(120)
    errors = sorted({s.error for s in held if s.error})
    return {
        "sessions": count,
        "waiting_at_once": waiting,
        "answered": sum(1 for s in held if s.echoed),
        "all_ready_s": round(ready_s, 2),
        "sandboxes_running": len(running),
        "sandbox_memory": sandbox_memory,
        "worker_pss_mib": round(worker_pss / (1 << 20), 1),
        "mem_available_drop_mib": round(drop / (1 << 20), 1),
        "errors": errors[:5],
    }


@contextlib.contextmanager
def split_deployment(
    config: dict[str, Any], workdir: Path, log_dir: Path, max_workers: int
) -> Iterator[tuple[Service, Service]]:
    """runakode-api and one runakode-worker over RabbitMQ (their queues deleted afterwards)."""
    queue = f"runakode_bench_{free_port()}"
    split_config = {
        **config,
        "broker": "rabbitmq",
        "rabbitmq": {**dict(config.get("rabbitmq") or {}), "queue": queue},
        "workerPort": free_port(),
        "maxWorkers": max_workers,
        # Every session waits until all have started: long enough for all of them to boot.
        "jobTimeout": "180s",
        "apiTimeout": "180s",
    }
    worker = Service(split_config, workdir, log_dir / "bench-worker.log", program="runakode-worker")
    api_config = {**split_config, "port": free_port()}
    api = Service(api_config, workdir, log_dir / "bench-api.log", program="runakode-api")
    try:
        worker.start()
        worker.wait_healthy()
        api.start()
        api.wait_healthy()
        yield api, worker
    finally:
        api.stop()
        worker.stop()
        _delete_queues(queue)


def _delete_queues(queue: str) -> None:
    for name in (queue, f"{queue}.dead", f"{queue}.languages"):
        subprocess.run(["rabbitmqctl", "-q", "delete_queue", name], capture_output=True, timeout=60)
