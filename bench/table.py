"""The table: each figure of the service beside its baseline and their ratio."""

import math
from typing import Any

from bench.plan import PACE_S
from bench.stats import ratio
from bench.targets import LANGUAGE_NAMES, get, num

# (figure, service, baseline, service / baseline)
Row = tuple[str, str, str, str]


def fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    number = num(value)
    if math.isnan(number):
        return "-"
    return f"{number:,.{digits}f}{unit}"


def ratio_text(service: Any, baseline: Any) -> str:
    value = ratio(num(service), num(baseline))
    return "-" if math.isnan(value) else f"{value:.2f}x"


def pair(first: Any, second: Any, unit: str, digits: int = 0) -> str:
    return f"{fmt(first, '', digits)} | {fmt(second, unit, digits)}"


def figure(label: str, svc: Any, base: Any, unit: str, digits: int = 0) -> Row:
    return (label, fmt(svc, unit, digits), fmt(base, unit, digits), ratio_text(svc, base))


def rows(results: dict[str, Any]) -> list[Row]:
    return [
        *hello_rows(results),
        *sustained_rows(results),
        *compiled_rows(results),
        *batch_rows(results),
        *overload_rows(results),
        *cpu_memory_rows(results),
        *live_rows(results),
        *submission_rows(results),
    ]


def hello_rows(results: dict[str, Any]) -> list[Row]:
    found = []
    for language, name in LANGUAGE_NAMES.items():
        data = get(results, "hello", language)
        if not data:
            continue
        for pct in ("p50", "p99"):
            found.append(
                figure(
                    f"{name} hello {pct} (paced, 1 per {PACE_S:g} s)",
                    get(data, "service", f"{pct}_ms"),
                    get(data, "baseline", f"{pct}_ms"),
                    " ms",
                )
            )
    return found


def sustained_rows(results: dict[str, Any]) -> list[Row]:
    data = get(results, "sustained")
    if not data:
        return []
    svc, base = data["service"], data["baseline"]
    label = f"Sustained, {data['clients']} clients x {data['duration_s']:.0f} s"
    tail = [ratio(num(side["p99_ms"]), num(side["p50_ms"])) for side in (svc, base)]
    return [
        figure(
            f"{label}: jobs/s",
            svc["throughput_jobs_per_s"],
            base["throughput_jobs_per_s"],
            " /s",
            2,
        ),
        figure("  p50 latency", svc["p50_ms"], base["p50_ms"], " ms"),
        figure("  p99 latency", svc["p99_ms"], base["p99_ms"], " ms"),
        ("  p99 / p50", fmt(tail[0], "x", 2), fmt(tail[1], "x", 2), ""),
        (
            "  errors / jobs",
            f"{svc['errors']} / {svc['jobs']}",
            f"{base['errors']} / {base['jobs']}",
            "",
        ),
    ]


def compiled_rows(results: dict[str, Any]) -> list[Row]:
    found = []
    for key, label, side in (
        ("cpp_hello", "C++ hello (bits/stdc++.h), new source p50", "service"),
        ("cpp_hello", "C++ hello, same source again p50", "service_again"),
        ("rust_hello", "Rust hello, new source p50", "service"),
        ("go_hello", "Go hello, new source p50", "service"),
    ):
        data = get(results, key)
        if data and side in data:
            found.append(
                figure(label, get(data, side, "p50_ms"), get(data, "baseline", "p50_ms"), " ms")
            )
    return found


def batch_rows(results: dict[str, Any]) -> list[Row]:
    data = get(results, "judge0_batch")
    if not data:
        return []
    return [
        figure(
            f"Judge0 C++ batch of {data['batch_size']} (baseline: one)",
            data["batch_median_s"],
            data["one_median_s"],
            " s",
            2,
        )
    ]


def overload_rows(results: dict[str, Any]) -> list[Row]:
    data = get(results, "overload")
    if not data:
        return []
    ok, refused = data["ok_200"], data["refused_503"]
    return [
        (
            f"Overload, {data['requests']} at once: 200 | 503 | other",
            f"{ok['count']} | {refused['count']} | {data['other']}",
            "",
            "",
        ),
        ("  503 latency p50 | max", pair(refused["p50_ms"], refused["max_ms"], " ms"), "", ""),
        ("  200 latency p50 | max", pair(ok["p50_ms"], ok["max_ms"], " ms"), "", ""),
    ]


def cpu_memory_rows(results: dict[str, Any]) -> list[Row]:
    cpu = results.get("cpu") or {}
    mem = results.get("memory") or {}
    return [
        figure(
            "CPU loop, best (sandbox | native)",
            cpu.get("sandbox_best_ms"),
            cpu.get("native_best_ms"),
            " ms",
        ),
        figure(
            "CPU loop, median (sandbox | native)",
            cpu.get("sandbox_median_ms"),
            cpu.get("native_median_ms"),
            " ms",
        ),
        figure(
            "Idle Python sandbox PSS (pool | plain ctr)",
            get(mem, "sandbox", "mean_pss_mib"),
            get(mem, "baseline_plain_container", "mean_pss_mib"),
            " MiB",
            1,
        ),
        figure(
            "  of which runsc processes",
            get(mem, "sandbox", "mean_runsc_pss_mib"),
            get(mem, "baseline_plain_container", "mean_runsc_pss_mib"),
            " MiB",
            1,
        ),
    ]


def live_rows(results: dict[str, Any]) -> list[Row]:
    """Live runs: a program's write to the WebSocket client (baseline: the same program's
    stdout through `docker run -i`'s pipe), and the sessions one worker held at once."""
    rows: list[Row] = []
    figures = results.get("live") or {}
    base = figures.get("baseline") or {}
    for mode in ("combined", "split"):
        svc = figures.get(mode)
        if not svc:
            continue
        for pct in ("p50", "p99"):
            value, base_value = svc.get(f"{pct}_ms"), base.get(f"{pct}_ms")
            rows.append(
                (
                    f"Live output {pct}, write to client ({mode})",
                    fmt(value, " ms", 1),
                    fmt(base_value, " ms", 1),
                    ratio_text(value, base_value),
                )
            )
    held = figures.get("held")
    if held:
        rows.append(
            (
                "Live sessions one worker held at once",
                f"{held['waiting_at_once']} / {held['sessions']} ({held['answered']} answered)",
                "",
                "",
            )
        )
        rows.append(
            (
                "  sandbox PSS each | MemAvailable drop",
                f"{fmt(get(held, 'sandbox_memory', 'mean_pss_mib'), ' MiB', 1)} | "
                f"{fmt(held['mem_available_drop_mib'], ' MiB')}",
                "",
                "",
            )
        )
    return rows


def submission_rows(results: dict[str, Any]) -> list[Row]:
    """Judge0 submissions (baseline: the docker-run jobs/s at the same concurrency) and the
    store's statements on their own (no baseline)."""
    rows: list[Row] = []
    subs = results.get("submissions")
    if subs:
        level = str(subs["concurrency"])
        # The docker-run baseline at the same concurrency: the sustained-load one.
        base = get(results, "sustained", "baseline", "throughput_jobs_per_s")
        rows.append(
            (f"Judge0 accepted /s (c={level})", fmt(subs["accepted_per_s"], " /s", 1), "", "")
        )
        rows.append(
            (
                f"Judge0 accept p50 | p99 (c={level})",
                f"{fmt(get(subs, 'accepted', 'p50_ms'), ' ms')} | "
                f"{fmt(get(subs, 'accepted', 'p99_ms'), ' ms')}",
                "",
                "",
            )
        )
        rows.append(
            (
                "Judge0 finished /s (all accepted)",
                fmt(subs["finished_per_s"], " /s", 2),
                fmt(base, " /s", 2),
                ratio_text(subs["finished_per_s"], base),
            )
        )
        rows.append(
            (
                "  finished / accepted status",
                f"{subs['finished']} / {subs['accepted_status']} of {subs['submissions']}",
                "",
                "",
            )
        )
        rows.append(
            (
                "Judge0 GET /submissions/{t} p50 | p99",
                f"{fmt(subs['read_p50_ms'], ' ms', 1)} | {fmt(subs['read_p99_ms'], ' ms', 1)}",
                "",
                "",
            )
        )
    for database in ("sqlite", "postgresql"):
        figures = get(results, "store", database) or {}
        if "error" in figures:
            rows.append((f"store ({database})", figures["error"][:40], "", ""))
            continue
        for statement in ("create", "claim", "finish", "read"):
            if statement in figures:
                value = figures[statement]
                rows.append(
                    (
                        f"store {database} {statement} p50 | p99",
                        f"{value['p50_ms']:.2f} | {value['p99_ms']:.2f} ms",
                        "",
                        "",
                    )
                )
    return rows
