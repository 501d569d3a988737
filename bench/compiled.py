"""Compiled hello worlds: a source never seen before (compiled), and for C++ the same source
submitted again (the service's compile cache may run the program it kept)."""

import math
import time
from typing import Any

import httpx

from bench import metrics
from bench.jobs import Outcome
from bench.load import Series, sequential
from bench.phase import Context, log, log_series
from bench.programs import Compiled


def _series(outcomes: list[Outcome]) -> Series:
    return Series(outcomes, sum(o.latency_s for o in outcomes))


def _cache_hits(ctx: Context, language: str) -> float:
    try:
        text = metrics.read(ctx.service.url)
    except httpx.HTTPError:
        return math.nan
    return metrics.total(text, "runakode_compile_cache_total", language=language, result="hit")


def measure(
    ctx: Context, program: Compiled, service_runs: int, baseline_runs: int, again: bool = False
) -> dict[str, Any]:
    """Each service request starts on a settled pool, one at a time; `again` submits each
    source a second time right after its first run."""
    language = program.language
    log(f"{language} hello world, new sources" + (", each submitted again" if again else ""))
    # The first request of a language boots its own sandbox (the pool keeps none yet).
    ctx.client.run(language, program.source())
    hits_before = _cache_hits(ctx, language)
    new: list[Outcome] = []
    repeated: list[Outcome] = []
    started = time.perf_counter()
    for _ in range(service_runs):
        source = program.source()
        ctx.settle()
        new.append(ctx.client.run(language, source))
        if again:
            ctx.settle()
            repeated.append(ctx.client.run(language, source))
    log(f"  service: {time.perf_counter() - started:.1f} s including pool waits")
    figures: dict[str, Any] = {"service": _series(new).to_json()}
    log_series("service, new source", _series(new))
    if again:
        figures["service_again"] = _series(repeated).to_json()
        figures["cache_hits"] = _cache_hits(ctx, language) - hits_before
        log_series("service, same source again", _series(repeated))
    ctx.settle()

    def base_job() -> Outcome:
        return ctx.baseline.compiled(program, program.source())

    ctx.warm(base_job)
    base = sequential(base_job, baseline_runs)
    log_series("baseline", base)
    figures["baseline"] = base.to_json()
    return figures
