"""The submission store on its own: what each of the hot-path statements costs, on SQLite (a
file, as `runakode` uses it) and on PostgreSQL (on this host's loopback), one at a time."""

import asyncio
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.stats import ms, percentile
from runakode.submissions.record import Judge0Status, SubmissionOutcome, SubmissionRequest
from runakode.submissions.store import SubmissionStore

REQUEST = SubmissionRequest(source_code=b'print("hello")', language_id=71, stdin=b"")
OUTCOME = SubmissionOutcome(Judge0Status.ACCEPTED, stdout=b"hello\n", time=0.01, memory=9000)
POSTGRES_URL = "postgresql://runakode:runakode@127.0.0.1:5432/{database}"


async def _timed(operation: Callable[[], Awaitable[object]], count: int) -> dict[str, float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await operation()
        latencies.append(time.perf_counter() - started)
    return {
        "p50_ms": round(ms(percentile(latencies, 50)), 2),
        "p99_ms": round(ms(percentile(latencies, 99)), 2),
    }


async def _measure(url: str, count: int) -> dict[str, Any]:
    store = await SubmissionStore.open(url)
    try:
        tokens: list[str] = []

        async def create() -> None:
            [created] = await store.create([REQUEST], None)
            tokens.append(created.token)

        figures = {"create": await _timed(create, count)}
        pending = iter(tokens)
        claims = []

        async def claim() -> None:
            claimed = await store.claim(next(pending), "bench", 30, redelivered=False)
            assert claimed is not None
            claims.append(claimed)

        figures["claim"] = await _timed(claim, count)
        held = iter(claims)

        async def finish() -> None:
            assert await store.finish(next(held), "bench", OUTCOME) is not None

        figures["finish"] = await _timed(finish, count)
        reads = iter(tokens)

        async def read() -> None:
            assert await store.get(next(reads)) is not None

        figures["read"] = await _timed(read, count)
        return figures
    finally:
        await store.close()


def _psql(sql: str) -> None:
    subprocess.run(
        ["su", "postgres", "-c", f'psql -v ON_ERROR_STOP=1 -qc "{sql}"'],
        check=True,
        capture_output=True,
        timeout=60,
    )


def measure(count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"statements": count}
    with tempfile.TemporaryDirectory(prefix="runakode-bench-store-") as directory:
        results["sqlite"] = asyncio.run(_measure(f"sqlite:///{directory}/store.db", count))
    database = f"runakode_bench_{uuid.uuid4().hex[:8]}"
    try:
        _psql(f"CREATE DATABASE {database} OWNER runakode")
    except (OSError, subprocess.SubprocessError) as exc:
        results["postgresql"] = {"error": f"no PostgreSQL database for the bench: {exc}"}
        return results
    try:
        results["postgresql"] = asyncio.run(_measure(POSTGRES_URL.format(database=database), count))
    finally:
        _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    return results
