"""Overload against the real combined service: more runs at once than it can answer within
apiTimeout. Each ends 200 or 503 with Retry-After, in its route family's error shape; none
waits for a 504."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config

# Admission predicts from how fast this host ends runs: other tests' load would change that.
pytestmark = pytest.mark.alone

# One worker, runs of a little over 2 s (a 2 s sleep, its sandbox and interpreter), answers
# due within 7 s: two runs fit the 0.8 * 7 s admission aims at, with room for slower boots;
# a flood of them does not.
SLEEP_S = 2
PROGRAM = f"import time\ntime.sleep({SLEEP_S})\nprint('done')\n"
FLOOD = 24
# Each family's request for the program, and the key of its error body.
ROUTES: list[tuple[str, dict[str, Any], str]] = [
    ("/api", {"language": "python", "source_code": PROGRAM}, "error"),
    ("/execute", {"language": "python", "code": PROGRAM}, "error"),
    (
        "/api/v2/execute",
        {"language": "python", "version": "3.x", "files": [{"content": PROGRAM}]},
        "message",
    ),
]


@pytest.fixture(scope="module")
def one_worker(workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        supportedLanguages=["python"],
        maxWorkers=1,
        apiTimeout="7s",
        jobTimeout="5s",
    )
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        yield service
        assert service.stop() == 0, service.logs()


async def flood(url: str) -> list[tuple[str, httpx.Response]]:
    """FLOOD requests at once, spread over the route families."""
    limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=FLOOD)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(n: int) -> tuple[str, httpx.Response]:
            path, body, key = ROUTES[n % len(ROUTES)]
            return key, await client.post(path, json=body)

        return list(await asyncio.gather(*(one(n) for n in range(FLOOD))))


def assert_answered_or_refused(
    answers: list[tuple[str, httpx.Response]], refusal: str
) -> Counter[int]:
    statuses = Counter(response.status_code for _, response in answers)
    assert set(statuses) <= {200, 503}, statuses
    for key, response in answers:
        if response.status_code == 200:
            output = response.json()
            assert "done" in str(output), output
            continue
        assert int(response.headers["retry-after"]) >= 1, response.headers
        body = response.json()
        assert list(body) == [key], body
        assert refusal in body[key] and "retry in" in body[key], body
    assert statuses[200] >= 1 and statuses[503] >= 1, statuses
    return statuses


def test_a_flood_before_the_rate_is_known_is_refused_beyond_what_fits(
    one_worker: ServiceProcess,
) -> None:
    # Until the pace is measured runs count as lasting 2 s: 0.8 * 7 s holds two of them.
    assert_answered_or_refused(asyncio.run(flood(one_worker.url)), "busy")


def test_a_flood_once_the_rate_is_known_is_answered_or_refused_at_once(
    one_worker: ServiceProcess,
) -> None:
    # With one worker, every run keeps it busy: four answers make the rate known.
    for path, body, _ in [*ROUTES, ROUTES[0]]:
        assert httpx.post(f"{one_worker.url}{path}", json=body, timeout=30).status_code == 200
    statuses = assert_answered_or_refused(asyncio.run(flood(one_worker.url)), "overloaded")
    assert refusals(one_worker) >= statuses[503]


def refusals(service: ServiceProcess) -> float:
    """The refusals /metrics counts (both floods of this module's service)."""
    metrics = httpx.get(f"{service.url}/metrics", timeout=10).text
    name = 'runakode_admission_refusals_total{reason="overloaded"} '
    [line] = [line for line in metrics.splitlines() if line.startswith(name)]
    return float(line.removeprefix(name))
