"""Hello world one at a time per interpreted language, and Python under sustained load."""

import functools
from typing import Any

from bench.load import closed_loop, paced, sequential
from bench.phase import Context, log, log_series
from bench.plan import PACE_S
from bench.programs import HELLO


def hello(ctx: Context, language: str) -> dict[str, Any]:
    """The service paced (one request every PACE_S at most), the baseline one after another."""
    log(f"{language} hello world: service one every {PACE_S} s at most, baseline sequential")
    svc_job = functools.partial(ctx.client.run, language, HELLO[language].source)
    base_job = functools.partial(ctx.baseline.hello, language)
    # The pool keeps nothing for a language nobody asked for lately: its first request boots a
    # sandbox (kept apart, as the first request), and the pool grows with the demand it sees.
    first = svc_job()
    warmup = paced(svc_job, ctx.plan.hello_warmup, PACE_S)
    ctx.settle()
    svc = paced(svc_job, ctx.plan.hello_service, PACE_S)
    log_series("service", svc)
    ctx.settle()
    ctx.warm(base_job)
    base = sequential(base_job, ctx.plan.hello_baseline)
    log_series("baseline", base)
    return {
        "pace_s": PACE_S,
        "first_request": {"ok": first.ok, "ms": round(first.latency_s * 1000, 1)},
        "warmup_ms": [round(o.latency_s * 1000, 1) for o in warmup.outcomes],
        "service": svc.to_json(),
        "baseline": base.to_json(),
    }


def sustained(ctx: Context) -> dict[str, Any]:
    """`sustained_clients` clients in a closed loop of Python hello worlds, for a time."""
    plan = ctx.plan
    clients = plan.sustained_clients
    log(
        f"sustained load: {clients} clients, Python hello world, {plan.sustained_s:.0f} s "
        f"(baseline {plan.sustained_baseline_s:.0f} s)"
    )
    svc_job = functools.partial(ctx.client.run, "python", HELLO["python"].source)
    base_job = functools.partial(ctx.baseline.hello, "python")
    ctx.settle()
    svc = closed_loop(svc_job, clients, plan.sustained_s)
    log_series("service", svc)
    # The pool grows after the load: its boots must not take the baseline's CPU.
    ctx.settle()
    base = closed_loop(base_job, clients, plan.sustained_baseline_s)
    log_series("baseline", base)
    return {
        "clients": clients,
        "duration_s": plan.sustained_s,
        "baseline_duration_s": plan.sustained_baseline_s,
        "service": svc.to_json(),
        "baseline": base.to_json(),
    }
