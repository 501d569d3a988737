"""One job, timed from the client's side: through the service, or as a plain `docker run`."""

import dataclasses
import subprocess
import time
import uuid
from typing import Any

import httpx

from bench import docker

PY_HELLO = 'print("hello")'
GO_HELLO = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello")\n}\n'
HELLO_OUT = "hello\n"
# The baseline writes the program from stdin into a tmpfs, builds it and runs it.
GO_BASELINE_CMD = ("sh", "-c", "cat > /tmp/m.go && cd /tmp && go build -o m m.go && ./m")
BASELINE_TIMEOUT_S = 120.0
SERVICE_TIMEOUT_S = 120.0


def cpu_program(loop: int) -> str:
    """A pure-Python loop that times itself: prints `<wall ms> <cpu ms> <checksum>`."""
    return (
        "import time\n"
        "t, c = time.perf_counter(), time.process_time()\n"
        "s = 0\n"
        f"for i in range({loop}):\n"
        "    s += i * i\n"
        "wall, cpu = time.perf_counter() - t, time.process_time() - c\n"
        "print(f'{wall * 1000:.3f} {cpu * 1000:.3f} {s}')\n"
    )


def cpu_checksum(loop: int) -> int:
    return (loop - 1) * loop * (2 * loop - 1) // 6


@dataclasses.dataclass
class Outcome:
    ok: bool
    latency_s: float
    stdout: str = ""
    error: str = ""
    exec_time_ms: float | None = None


class ServiceClient:
    """POST /api on the bench's service; thread-safe (one httpx.Client, pooled connections)."""

    def __init__(self, url: str) -> None:
        self._url = f"{url}/api"
        self._client = httpx.Client(
            timeout=SERVICE_TIMEOUT_S, limits=httpx.Limits(max_connections=64)
        )

    def close(self) -> None:
        self._client.close()

    def run(self, language: str, source: str, expect: str | None = HELLO_OUT) -> Outcome:
        started = time.perf_counter()
        try:
            response = self._client.post(
                self._url, json={"language": language, "source_code": source}
            )
        except httpx.HTTPError as exc:
            return Outcome(False, time.perf_counter() - started, error=f"http: {exc!r}")
        latency = time.perf_counter() - started
        if response.status_code != 200:
            return Outcome(False, latency, error=f"HTTP {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        stdout = str(body.get("stdout", ""))
        exec_ms = body.get("exec_time_ms")
        outcome = Outcome(True, latency, stdout, exec_time_ms=float(exec_ms or 0))
        if body.get("status") != "ok" or (expect is not None and stdout != expect):
            outcome.ok = False
            outcome.error = f"status {body.get('status')}, stdout {stdout[:80]!r}, " + (
                f"stderr {str(body.get('stderr', ''))[:200]!r}"
            )
        return outcome


class Baseline:
    """The straightforward way: one `docker run --rm --runtime=runsc` per job."""

    def __init__(self, images: dict[str, str], name_prefix: str) -> None:
        self._images = images
        self.name_prefix = name_prefix

    def _run(self, args: list[str], stdin: bytes, expect: str | None) -> Outcome:
        name = f"{self.name_prefix}{uuid.uuid4().hex[:10]}"
        cmd = ["docker", "run", "--rm", "-i", "--runtime=runsc", "--network=none"]
        # The engine runs runsc with --oci-seccomp: Docker's default profile would break
        # threads under gVisor, so the baseline gets the same profile as the service's sandboxes.
        cmd += ["--security-opt", docker.security_opt()]
        cmd += ["--name", name, "-u", "10001:10001", *args]
        started = time.perf_counter()
        try:
            done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=BASELINE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
            return Outcome(False, time.perf_counter() - started, error="timed out")
        latency = time.perf_counter() - started
        stdout = done.stdout.decode(errors="replace")
        if done.returncode != 0 or (expect is not None and stdout != expect):
            stderr = done.stderr.decode(errors="replace")[:300]
            return Outcome(False, latency, stdout, f"exit {done.returncode}: {stderr}")
        return Outcome(True, latency, stdout)

    def python(self, source: str, expect: str | None = HELLO_OUT) -> Outcome:
        return self._run([self._images["python"], "python3", "-c", source], b"", expect)

    def go(self, source: str, expect: str | None = HELLO_OUT) -> Outcome:
        args = ["--tmpfs", "/tmp:exec", self._images["go"], *GO_BASELINE_CMD]
        return self._run(args, source.encode(), expect)


def native_python(interpreter: str, source: str) -> Outcome:
    """The same program straight on the host, no container at all."""
    started = time.perf_counter()
    done = subprocess.run([interpreter, "-c", source], capture_output=True, text=True, check=False)
    latency = time.perf_counter() - started
    if done.returncode != 0:
        return Outcome(False, latency, done.stdout, done.stderr[:300])
    return Outcome(True, latency, done.stdout)
