"""Judge0 submissions through the service: how fast they are accepted and how fast they end."""

import time
from typing import Any

import httpx

from bench.jobs import PY_HELLO, SERVICE_TIMEOUT_S, Outcome
from bench.load import concurrent
from bench.stats import ms, percentile

PYTHON_ID = 71
BATCH_READ = 20


class SubmissionClient:
    """POST /submissions and batch reads on the bench's service (thread-safe)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = httpx.Client(
            timeout=SERVICE_TIMEOUT_S, limits=httpx.Limits(max_connections=64)
        )
        self.tokens: list[str] = []

    def close(self) -> None:
        self._client.close()

    def create(self) -> Outcome:
        body = {"source_code": PY_HELLO, "language_id": PYTHON_ID, "expected_output": "hello"}
        started = time.perf_counter()
        try:
            response = self._client.post(f"{self._url}/submissions", json=body)
        except httpx.HTTPError as exc:
            return Outcome(False, time.perf_counter() - started, error=f"http: {exc!r}")
        latency = time.perf_counter() - started
        if response.status_code != 201:
            return Outcome(False, latency, error=f"HTTP {response.status_code}: {response.text}")
        self.tokens.append(str(response.json()["token"]))
        return Outcome(True, latency)

    def read(self, token: str) -> Outcome:
        started = time.perf_counter()
        response = self._client.get(f"{self._url}/submissions/{token}")
        return Outcome(response.status_code == 200, time.perf_counter() - started)

    def statuses(self, tokens: list[str]) -> list[int]:
        found: list[int] = []
        for start in range(0, len(tokens), BATCH_READ):
            chunk = ",".join(tokens[start : start + BATCH_READ])
            response = self._client.get(
                f"{self._url}/submissions/batch?tokens={chunk}&fields=status_id"
            )
            found += [int(entry["status_id"]) for entry in response.json()["submissions"]]
        return found


def measure(url: str, count: int, concurrency: int, timeout_s: float = 600) -> dict[str, Any]:
    """`count` hello-world submissions from `concurrency` clients, then wait for all to end."""
    client = SubmissionClient(url)
    try:
        started = time.perf_counter()
        accepted = concurrent(client.create, count, concurrency)
        status_ids: list[int] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status_ids = client.statuses(client.tokens)
            if all(status > 2 for status in status_ids):
                break
            time.sleep(0.2)
        finished_s = time.perf_counter() - started
        reads = [client.read(token).latency_s for token in client.tokens[:100]]
    finally:
        client.close()
    done = [status for status in status_ids if status > 2]
    return {
        "submissions": count,
        "concurrency": concurrency,
        "accepted": accepted.to_json(),
        "accepted_per_s": round(accepted.throughput, 2),
        "finished": len(done),
        "accepted_status": sum(1 for status in done if status == 3),
        "finished_per_s": round(len(done) / finished_s, 2) if finished_s > 0 else None,
        "finished_wall_s": round(finished_s, 2),
        "read_p50_ms": round(ms(percentile(reads, 50)), 1),
        "read_p99_ms": round(ms(percentile(reads, 99)), 1),
    }
