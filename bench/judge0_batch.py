"""Judge0: a batch of one C++ source with many stdins against one submission of a C++ source,
each a source never seen, each timed from its POST until every submission of it has ended."""

import dataclasses
import time
from typing import Any

import httpx

from bench.jobs import SERVICE_TIMEOUT_S
from bench.phase import Context, log
from bench.programs import JUDGE0_CPP_ID, cpp_echo
from bench.stats import percentile, ratio

POLL_S = 0.05
WAIT_TIMEOUT_S = 120.0
# Judge0 ends a submission with a status id above 2 (1 In Queue, 2 Processing); 3 is Accepted.
ACCEPTED = 3


@dataclasses.dataclass
class Timed:
    seconds: float
    submissions: int
    accepted: int = 0
    error: str = ""


def _body(source: str, index: int) -> dict[str, Any]:
    return {
        "source_code": source,
        "language_id": JUDGE0_CPP_ID,
        "stdin": f"{index}\n",
        "expected_output": f"hello {index}\n",
    }


def _wait(client: httpx.Client, url: str, tokens: list[str]) -> list[int]:
    """Status ids of `tokens`, read until all have ended (or WAIT_TIMEOUT_S)."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    params = {"tokens": ",".join(tokens), "fields": "status_id", "base64_encoded": "false"}
    while True:
        response = client.get(f"{url}/submissions/batch", params=params)
        response.raise_for_status()
        statuses = [int((s or {}).get("status_id") or 0) for s in response.json()["submissions"]]
        if all(status > 2 for status in statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(POLL_S)


def _timed(client: httpx.Client, url: str, size: int) -> Timed:
    """One submission (size 0: POST /submissions) or a batch of `size` (POST /submissions/batch)."""
    source = cpp_echo()
    started = time.perf_counter()
    try:
        if size == 0:
            response = client.post(f"{url}/submissions?base64_encoded=false", json=_body(source, 0))
            created = [response.json()] if response.status_code == 201 else []
        else:
            body = {"submissions": [_body(source, i) for i in range(size)]}
            response = client.post(f"{url}/submissions/batch?base64_encoded=false", json=body)
            created = response.json() if response.status_code == 201 else []
        tokens = [str(entry["token"]) for entry in created if "token" in entry]
        if not tokens or len(tokens) != max(1, size):
            error = f"HTTP {response.status_code}: {response.text[:200]}"
            return Timed(float("nan"), max(1, size), error=error)
        statuses = _wait(client, url, tokens)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return Timed(float("nan"), max(1, size), error=repr(exc)[:200])
    seconds = time.perf_counter() - started
    accepted = sum(1 for status in statuses if status == ACCEPTED)
    unfinished = sum(1 for status in statuses if status <= 2)
    error = f"{unfinished} not ended after {WAIT_TIMEOUT_S:.0f} s" if unfinished else ""
    return Timed(seconds, len(tokens), accepted, error)


def measure(ctx: Context, runs: int, size: int) -> dict[str, Any]:
    log(f"Judge0 C++: one submission vs a batch of {size} (one source, {size} stdins), x{runs}")
    ones: list[Timed] = []
    batches: list[Timed] = []
    with httpx.Client(timeout=SERVICE_TIMEOUT_S) as client:
        for _ in range(runs):
            ctx.settle()
            ones.append(_timed(client, ctx.service.url, 0))
            ctx.settle()
            batches.append(_timed(client, ctx.service.url, size))
    one_s = percentile([t.seconds for t in ones if not t.error], 50)
    batch_s = percentile([t.seconds for t in batches if not t.error], 50)
    log(
        f"  one {one_s:.2f} s, batch of {size} {batch_s:.2f} s "
        f"({ratio(batch_s, one_s):.2f}x); errors: {[t.error for t in ones + batches if t.error]}"
    )
    return {
        "batch_size": size,
        "runs": runs,
        "one_median_s": round(one_s, 3),
        "batch_median_s": round(batch_s, 3),
        "one": [dataclasses.asdict(t) for t in ones],
        "batch": [dataclasses.asdict(t) for t in batches],
        "errors": [t.error for t in ones + batches if t.error],
    }
