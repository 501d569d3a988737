"""What every phase works with: the plan, the running service, its client and the baseline."""

import dataclasses
import time

from bench import jobs, metrics
from bench.load import Job, Series
from bench.plan import Plan
from bench.service import Service


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def log_series(label: str, series: Series) -> None:
    errors = f", {len(series.errors)} errors ({series.errors[0][:120]})" if series.errors else ""
    log(
        f"  {label}: {len(series.outcomes)} jobs at c={series.concurrency}: p50 "
        f"{series.p(50):.0f} ms, p99 {series.p(99):.0f} ms, {series.throughput:.2f} jobs/s{errors}"
    )


@dataclasses.dataclass
class Context:
    plan: Plan
    service: Service
    client: jobs.ServiceClient
    baseline: jobs.Baseline

    def settle(self) -> metrics.PoolState:
        """Waits for the service's pool to reach what its demand calls for (see wait_pool)."""
        started = time.monotonic()
        state = self.service.wait_pool()
        if not metrics.full(state):
            waited = time.monotonic() - started
            log(f"  pool not at target after {waited:.1f} s: {metrics.describe(state)}")
        return state

    def warm(self, job: Job) -> None:
        for _ in range(self.plan.warmups):
            job()
