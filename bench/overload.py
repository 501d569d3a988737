"""Overload: many synchronous POST /api at once, far past what the workers can answer in time.
Each answer's status and latency (from the moment its own request was sent) is kept.

The requests are written on raw asyncio connections, one each (HTTP/1.1, Connection: close):
httpx's async client, 200 requests at once, itself took up to ~7 s to see answers that a
trivial server gave at once (a raw connection: ~0.15 s), which would be counted against the
service."""

import asyncio
import collections
import dataclasses
import json
import time
from typing import Any
from urllib.parse import urlsplit

from bench.phase import Context, log
from bench.programs import HELLO
from bench.stats import ms, percentile

# Longer than the service's own deadline (apiTimeout), so that its 504s are seen as such.
CLIENT_TIMEOUT_S = 120.0


@dataclasses.dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (connection refused or reset, client timeout)
    latency_s: float
    retry_after: str | None = None
    error: str = ""


def _request(host: str, port: int) -> bytes:
    body = json.dumps({"language": "python", "source_code": HELLO["python"].source}).encode()
    head = (
        f"POST /api HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _parse(raw: bytes, latency_s: float) -> Answer:
    head, _, payload = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        return Answer(0, latency_s, error=f"no HTTP answer: {raw[:100]!r}")
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = {key.strip().lower(): value.strip() for key, value in headers.items()}
    status = int(parts[1])
    error = ""
    if status == 200 and _stdout(payload) != "hello\n":
        error = f"200 without hello: {payload[:200]!r}"
    return Answer(status, latency_s, headers.get("retry-after"), error)


def _stdout(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return str(body.get("stdout")) if isinstance(body, dict) else None


async def _post(host: str, port: int, request: bytes, go: asyncio.Event) -> Answer:
    await go.wait()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(request)
                await writer.drain()
                raw = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError) as exc:
        return Answer(0, time.perf_counter() - started, error=repr(exc)[:200])
    return _parse(raw, time.perf_counter() - started)


async def _fire(url: str, count: int) -> tuple[list[Answer], float]:
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    request = _request(host, port)
    go = asyncio.Event()
    tasks = [asyncio.create_task(_post(host, port, request, go)) for _ in range(count)]
    await asyncio.sleep(0.1)  # every task waits at the gate: they all go at once
    started = time.perf_counter()
    go.set()
    answers = await asyncio.gather(*tasks)
    return list(answers), time.perf_counter() - started


def _latencies(answers: list[Answer], status: int) -> dict[str, Any]:
    found = [a.latency_s for a in answers if a.status == status]
    return {
        "count": len(found),
        "p50_ms": round(ms(percentile(found, 50)), 1),
        "max_ms": round(ms(max(found, default=float("nan"))), 1),
    }


def measure(ctx: Context, count: int) -> dict[str, Any]:
    log(f"overload: {count} synchronous POST /api (Python hello world) at once")
    ctx.settle()
    answers, wall_s = asyncio.run(_fire(ctx.service.url, count))
    statuses = collections.Counter(a.status for a in answers)
    retry_after = sorted({a.retry_after for a in answers if a.retry_after is not None})
    figures: dict[str, Any] = {
        "requests": count,
        "wall_s": round(wall_s, 2),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "ok_200": _latencies(answers, 200),
        "refused_503": _latencies(answers, 503),
        "timed_out_504": statuses.get(504, 0),
        "connection_errors": statuses.get(0, 0),
        "other": sum(n for status, n in statuses.items() if status not in (200, 503)),
        "retry_after_values": retry_after[:20],
        "error_samples": sorted({a.error for a in answers if a.error})[:5],
    }
    log(
        f"  statuses {figures['statuses']} in {wall_s:.1f} s; 503 max "
        f"{figures['refused_503']['max_ms']} ms; 200 p50 {figures['ok_200']['p50_ms']} ms"
    )
    return figures
