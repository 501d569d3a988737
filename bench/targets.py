"""Issue 11's targets, each with its limit, the measured value and PASS / FAIL / n/a."""

import math
from typing import Any

from bench.programs import HELLO_LIMITS
from bench.stats import ratio

NA = math.nan
LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "ruby": "Ruby", "php": "PHP"}
OVERLOAD_503_LIMIT_MS = 1000.0
SUSTAINED_THROUGHPUT_LIMIT = 3.0
SUSTAINED_TAIL_LIMIT = 5.0
CPP_NEW_LIMIT = 0.4
CPP_AGAIN_LIMIT = 0.1
RUST_LIMIT = 0.5
BATCH_LIMIT = 3.0
CPU_LIMIT = 1.15


def get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else NA


def _target(
    name: str, value: float, limit: str, ok: bool, shown: str | None = None, note: str = ""
) -> dict[str, Any]:
    verdict = "n/a" if math.isnan(value) else ("PASS" if ok else "FAIL")
    if shown is None:
        shown = "-" if math.isnan(value) else f"{value:.3f}x"
    return {
        "target": name,
        "value": None if math.isnan(value) else round(value, 4),
        "shown": shown,
        "limit": limit,
        "result": verdict,
        "note": note,
    }


def _errors_note(results: dict[str, Any], *path: str) -> str:
    errors = [get(results, *path, side, "errors") for side in ("service", "baseline")]
    if not any(errors):
        return ""
    return f"errors: service {errors[0]}, baseline {errors[1]}"


def _p50_ratio(results: dict[str, Any], *path: str, service: str = "service") -> float:
    return ratio(
        num(get(results, *path, service, "p50_ms")), num(get(results, *path, "baseline", "p50_ms"))
    )


def _hello(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for language, limit in HELLO_LIMITS.items():
        value = _p50_ratio(results, "hello", language)
        found.append(
            _target(
                f"{LANGUAGE_NAMES[language]} hello p50 (paced) vs its baseline p50",
                value,
                f"<= {limit:.2f}x",
                value <= limit,
                note=_errors_note(results, "hello", language),
            )
        )
    return found


def _sustained(results: dict[str, Any]) -> list[dict[str, Any]]:
    clients = get(results, "sustained", "clients") or 8
    seconds = num(get(results, "sustained", "duration_s"))
    svc = get(results, "sustained", "service") or {}
    base = get(results, "sustained", "baseline") or {}
    throughput = ratio(
        num(svc.get("throughput_jobs_per_s")), num(base.get("throughput_jobs_per_s"))
    )
    tail = ratio(num(svc.get("p99_ms")), num(svc.get("p50_ms")))
    label = f"sustained load ({clients} clients, {seconds:.0f} s)"
    return [
        _target(
            f"{label}: throughput vs baseline",
            throughput,
            f">= {SUSTAINED_THROUGHPUT_LIMIT:.2f}x",
            throughput >= SUSTAINED_THROUGHPUT_LIMIT,
            note=_errors_note(results, "sustained"),
        ),
        _target(
            f"{label}: service p99 / p50",
            tail,
            f"< {SUSTAINED_TAIL_LIMIT:.2f}x",
            tail < SUSTAINED_TAIL_LIMIT,
        ),
    ]


def _compiled(results: dict[str, Any]) -> list[dict[str, Any]]:
    cpp_new = _p50_ratio(results, "cpp_hello")
    cpp_again = _p50_ratio(results, "cpp_hello", service="service_again")
    rust = _p50_ratio(results, "rust_hello")
    hits = get(results, "cpp_hello", "cache_hits")
    return [
        _target(
            "C++ hello (bits/stdc++.h), new source, p50 vs baseline",
            cpp_new,
            f"<= {CPP_NEW_LIMIT:.2f}x",
            cpp_new <= CPP_NEW_LIMIT,
            note=_errors_note(results, "cpp_hello"),
        ),
        _target(
            "C++ hello, same source again, p50 vs the same baseline",
            cpp_again,
            f"<= {CPP_AGAIN_LIMIT:.2f}x",
            cpp_again <= CPP_AGAIN_LIMIT,
            note="" if hits is None else f"compile cache hits counted by the service: {hits:g}",
        ),
        _target(
            "Rust hello, new source, p50 vs baseline",
            rust,
            f"<= {RUST_LIMIT:.2f}x",
            rust <= RUST_LIMIT,
            note=_errors_note(results, "rust_hello"),
        ),
    ]


def _batch(results: dict[str, Any]) -> dict[str, Any]:
    batch = get(results, "judge0_batch") or {}
    value = ratio(num(batch.get("batch_median_s")), num(batch.get("one_median_s")))
    errors = batch.get("errors") or []
    return _target(
        f"Judge0 batch of {batch.get('batch_size', 20)} (one C++ source) vs one submission",
        value,
        f"<= {BATCH_LIMIT:.2f}x",
        value <= BATCH_LIMIT,
        note=f"errors: {errors[:2]}" if errors else "",
    )


def _overload(results: dict[str, Any]) -> list[dict[str, Any]]:
    over = get(results, "overload")
    if not over:
        return [
            _target("overload: every answer 200 or 503", NA, "no 504, no other", False),
            _target("overload: every 503 within 1 s", NA, "max <= 1000 ms", False),
        ]
    others = num(over.get("other"))
    statuses = over.get("statuses") or {}
    counts = ", ".join(
        f"{n} x {'no answer' if code == '0' else code}" for code, n in statuses.items()
    )
    refused = over.get("refused_503") or {}
    slowest = num(refused.get("max_ms"))
    any_503 = bool(refused.get("count"))
    return [
        _target(
            f"overload ({over['requests']} at once): every answer 200 or 503",
            others,
            "none other: no 504, no connection error",
            others == 0,
            shown=f"{others:.0f} others",
            note=counts,
        ),
        _target(
            "overload: every 503 within 1 s",
            slowest if any_503 else 0.0,
            f"max <= {OVERLOAD_503_LIMIT_MS:.0f} ms",
            not any_503 or slowest <= OVERLOAD_503_LIMIT_MS,
            shown=f"max {slowest:.0f} ms" if any_503 else "no 503",
            note=f"{refused.get('count', 0)} answered 503, p50 {refused.get('p50_ms')} ms",
        ),
    ]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cpu = ratio(
        num(get(results, "cpu", "sandbox_best_ms")), num(get(results, "cpu", "native_best_ms"))
    )
    return [
        *_hello(results),
        *_sustained(results),
        *_compiled(results),
        _batch(results),
        *_overload(results),
        _target(
            "CPU-bound slowdown (sandbox / native, best run)",
            cpu,
            f"<= {CPU_LIMIT:.2f}x",
            cpu <= CPU_LIMIT,
        ),
        {
            "target": "hostile suite passes with pre-started interpreters",
            "value": None,
            "shown": "-",
            "limit": "all pass",
            "result": "n/a",
            "note": "not the bench's: make test (tests/integration/test_hostile_programs.py)",
        },
    ]
