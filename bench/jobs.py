"""One job, timed from the client's side: through the service, or as a plain `docker run`."""

import dataclasses
import subprocess
import time
import uuid
from typing import Any

import httpx

from bench import docker
from bench.programs import HELLO, HELLO_OUT, Compiled

PY_HELLO = HELLO["python"].source
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
    # A refusal's Retry-After (503, 429): when a well-behaved client sends its next request.
    retry_after_s: float | None = None


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
            error = f"HTTP {response.status_code}: {response.text}"
            return Outcome(False, latency, error=error, retry_after_s=_seconds(response))
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


def _seconds(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


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

    def command(self, language: str, argv: tuple[str, ...], expect: str | None) -> Outcome:
        """An interpreter's one-liner (python3 -c, node -e, ...), nothing on stdin."""
        return self._run([self._images[language], *argv], b"", expect)

    def hello(self, language: str) -> Outcome:
        return self.command(language, HELLO[language].baseline_argv, HELLO_OUT)

    def compiled(self, program: Compiled, source: str, expect: str | None = HELLO_OUT) -> Outcome:
        """Compile and run in one container: the source on stdin, written into a tmpfs."""
        args = ["--tmpfs", "/tmp:exec", self._images[program.language], *program.baseline_argv]
        return self._run(args, source.encode(), expect)


def native_python(interpreter: str, source: str) -> Outcome:
    """The same program straight on the host, no container at all."""
    started = time.perf_counter()
    done = subprocess.run([interpreter, "-c", source], capture_output=True, text=True, check=False)
    latency = time.perf_counter() - started
    if done.returncode != 0:
        return Outcome(False, latency, done.stdout, done.stderr[:300])
    return Outcome(True, latency, done.stdout)
