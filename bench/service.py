"""The real service, started as a child process on a free 127.0.0.1 port."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from bench import metrics, sandboxes
from bench.plan import merge

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90.0  # the runsc backend unpacks the images on its first start
POOL_TIMEOUT_S = 30.0
# The pool is taken as ready once every language has held its idle sandboxes at their target
# for POOL_STEADY_S, or when nothing has changed for POOL_SETTLE_S (it may stay below target,
# e.g. on a host short of memory).
POOL_STEADY_S = 0.5
POOL_SETTLE_S = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """`runakode --config FILE` as a child process; stop() is safe to call at any point."""

    def __init__(
        self,
        config: dict[str, Any],
        workdir: Path,
        log_path: Path,
        program: str = "runakode",
    ) -> None:
        # A store and a compile cache of its own, so that a run starts empty and never touches
        # the user's data/.
        own = {"store": {"url": f"sqlite:///{workdir}/bench.db"}}
        own["compileCache"] = {"dir": str(workdir / "compile-cache")}
        config = merge(own, config)
        self.config = config
        self.program = program
        # What the service says it chose once it has started (sandboxBackend may be `auto`).
        self.backend = str(config.get("sandboxBackend", "auto"))
        # A worker-only process answers /health on its status port.
        port_key = "workerPort" if program == "runakode-worker" else "port"
        self.port = int(config[port_key])
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / f"{program}.yaml"
        self.log_path = log_path
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.probe: sandboxes.Probe | None = None
        self.healthy = False
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        # RUNAKODE_* variables would override the bench's config file.
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAKODE_")}
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / self.program), "--config", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    def logs_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _assert_running(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.program} exited with status {self.proc.returncode}:\n{self.logs_tail()}"
            )

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Seconds until GET /health answered 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            self._assert_running()
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    self.healthy = True
                    self.backend = self._logged_backend() or self.backend
                    # Sandboxes carry their owner's pid and start time: only ours are counted.
                    self.probe = sandboxes.probe(self.backend, self.pid)
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.program} not healthy within {timeout_s:.0f} s:\n{self.logs_tail()}"
        )

    def _logged_backend(self) -> str | None:
        """The backend the service's log says it chose (one JSON object a line)."""
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        for line in lines:
            if '"sandbox_backend"' in line:
                try:
                    return str(json.loads(line)["sandbox_backend"])
                except (ValueError, KeyError):
                    continue
        return None

    def idle_sandboxes(self) -> list[sandboxes.Sandbox]:
        """Between phases no job runs, so the service's running sandboxes are its idle pool."""
        assert self.probe is not None
        return [s for s in self.probe.owned() if s.running]

    def pool_state(self) -> metrics.PoolState:
        """Idle and target per language from /metrics; without those gauges (a service that
        does not report them), the count of its running sandboxes under `sandboxes`."""
        try:
            state = metrics.read_pool(self.url)
        except httpx.HTTPError:
            state = {}
        return state or {"sandboxes": metrics.Kind(len(self.idle_sandboxes()), 0)}

    def wait_pool(self, timeout_s: float = POOL_TIMEOUT_S) -> metrics.PoolState:
        """Until the pool is at its target for every language (the target follows demand, so
        it is read each time), or settled below it, or `timeout_s` passed: a phase then
        neither starts short of sandboxes nor competes with boots for the CPU."""
        started = time.monotonic()
        last: metrics.PoolState | None = None
        last_change = started
        while True:
            self._assert_running()
            state = self.pool_state()
            now = time.monotonic()
            if state != last:
                last, last_change = state, now
            steady = now - last_change
            if (metrics.full(state) and steady >= POOL_STEADY_S) or steady >= POOL_SETTLE_S:
                return state
            if now - started >= timeout_s:
                return state
            time.sleep(0.2)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM by pid, then wait; SIGKILL only if it does not exit in time.

        A SIGTERM that arrives while the service is still starting can be lost (its handlers
        are not installed yet), so until it has answered /health the signal is repeated.
        """
        if self.proc is None:
            return None
        try:
            deadline = time.monotonic() + timeout_s
            while self.proc.poll() is None and time.monotonic() < deadline:
                self.proc.send_signal(signal.SIGTERM)
                wait_s = deadline - time.monotonic() if self.healthy else 2.0
                try:
                    return self.proc.wait(max(0.1, wait_s))
                except subprocess.TimeoutExpired:
                    continue
            if self.proc.poll() is None:
                self.proc.kill()
            return self.proc.wait()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
