"""Sequential, paced and closed-loop concurrent runs of one kind of job."""

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.jobs import Outcome
from bench.stats import ms, percentile

Job = Callable[[], Outcome]


@dataclasses.dataclass
class Series:
    """The outcomes of one phase, with `wall_s` from the first start to the last end."""

    outcomes: list[Outcome]
    wall_s: float
    concurrency: int = 1

    @property
    def latencies(self) -> list[float]:
        return [o.latency_s for o in self.outcomes if o.ok]

    @property
    def errors(self) -> list[str]:
        return [o.error for o in self.outcomes if not o.ok]

    def p(self, pct: float) -> float:
        """Latency percentile in ms over the successful jobs."""
        return ms(percentile(self.latencies, pct))

    @property
    def throughput(self) -> float:
        """Successful jobs per second."""
        return len(self.latencies) / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "jobs": len(self.outcomes),
            "concurrency": self.concurrency,
            "errors": len(self.errors),
            "refused_503": sum(1 for error in self.errors if error.startswith("HTTP 503")),
            "error_samples": sorted(set(self.errors))[:5],
            "wall_s": round(self.wall_s, 3),
            "throughput_jobs_per_s": round(self.throughput, 3),
            "p50_ms": round(self.p(50), 1),
            "p90_ms": round(self.p(90), 1),
            "p99_ms": round(self.p(99), 1),
            "latencies_ms": [round(ms(o.latency_s), 1) for o in self.outcomes],
        }


def sequential(job: Job, count: int) -> Series:
    started = time.perf_counter()
    outcomes = [job() for _ in range(count)]
    return Series(outcomes, time.perf_counter() - started)


def paced(job: Job, count: int, interval_s: float) -> Series:
    """One job at a time, each starting at least `interval_s` after the previous one started."""
    outcomes = []
    started = next_at = time.perf_counter()
    for _ in range(count):
        time.sleep(max(0.0, next_at - time.perf_counter()))
        next_at = time.perf_counter() + interval_s
        outcomes.append(job())
    return Series(outcomes, time.perf_counter() - started)


def closed_loop(job: Job, clients: int, duration_s: float) -> Series:
    """`clients` clients, each sending its next job as soon as the previous one is answered (or
    after the Retry-After of a refusal), until `duration_s` has passed; the jobs in flight then
    are waited for and counted."""

    def client(deadline: float) -> list[Outcome]:
        outcomes = []
        while time.perf_counter() < deadline:
            outcome = job()
            outcomes.append(outcome)
            if outcome.retry_after_s:
                time.sleep(min(outcome.retry_after_s, max(0.0, deadline - time.perf_counter())))
        return outcomes

    with ThreadPoolExecutor(max_workers=clients) as pool:
        started = time.perf_counter()
        futures = [pool.submit(client, started + duration_s) for _ in range(clients)]
        outcomes = [outcome for future in futures for outcome in future.result()]
        wall = time.perf_counter() - started
    return Series(outcomes, wall, clients)


def concurrent(job: Job, count: int, concurrency: int) -> Series:
    """`count` jobs, `concurrency` in flight at any time (each client sends its next at once)."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        started = time.perf_counter()
        futures = [pool.submit(job) for _ in range(count)]
        outcomes = [f.result() for f in futures]
        wall = time.perf_counter() - started
    return Series(outcomes, wall, concurrency)
