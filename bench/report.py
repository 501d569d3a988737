"""Targets, the printed table, and the JSON + PNG files."""

import json
import math
from pathlib import Path
from typing import Any

from bench.stats import ratio

NA = math.nan


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else NA


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what is compared, the measured ratio, the limit, and pass/fail/n/a."""
    svc_p50 = _num(_get(results, "python_hello", "service", "p50_ms"))
    base_p50 = _num(_get(results, "python_hello", "baseline", "p50_ms"))
    c1_p50 = _num(_get(results, "throughput", "1", "service", "p50_ms"))
    c1_p99 = _num(_get(results, "throughput", "1", "service", "p99_ms"))
    c8_svc = _num(_get(results, "throughput", "8", "service", "throughput_jobs_per_s"))
    c8_base = _num(_get(results, "throughput", "8", "baseline", "throughput_jobs_per_s"))
    c8_errors = _get(results, "throughput", "8", "service", "errors")
    go_svc = _num(_get(results, "go_hello", "service", "p50_ms"))
    go_base = _num(_get(results, "go_hello", "baseline", "p50_ms"))
    cpu_svc = _num(_get(results, "cpu", "sandbox_best_ms"))
    cpu_native = _num(_get(results, "cpu", "native_best_ms"))

    def target(name: str, value: float, limit: str, ok: bool, extra: str = "") -> dict[str, Any]:
        verdict = "n/a" if math.isnan(value) else ("PASS" if ok else "FAIL")
        return {
            "target": name,
            "ratio": _round(value),
            "limit": limit,
            "result": verdict,
            "note": extra,
        }

    go_ratio = ratio(go_svc, go_base)
    cpu_ratio = ratio(cpu_svc, cpu_native)
    hello_ratio = ratio(svc_p50, base_p50)
    tail_ratio = ratio(c1_p99, c1_p50)
    tput_ratio = ratio(c8_svc, c8_base)
    return [
        target("Python hello p50 vs baseline p50", hello_ratio, "<= 0.20x", hello_ratio <= 0.2),
        target("service p99 / p50 at concurrency 1", tail_ratio, "< 2.00x", tail_ratio < 2.0),
        target(
            "throughput at concurrency 8 vs baseline",
            tput_ratio,
            ">= 2.00x, 0 errors",
            tput_ratio >= 2.0 and c8_errors == 0,
            f"service errors: {c8_errors}",
        ),
        target("Go hello p50 vs baseline p50", go_ratio, "<= 0.50x", go_ratio <= 0.5),
        target("CPU-bound slowdown (sandbox / native)", cpu_ratio, "<= 1.15x", cpu_ratio <= 1.15),
    ]


def _round(value: float, digits: int = 3) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    number = _num(value)
    if math.isnan(number):
        return "-"
    return f"{number:,.{digits}f}{unit}"


def _ratio_text(service: Any, baseline: Any) -> str:
    value = ratio(_num(service), _num(baseline))
    return "-" if math.isnan(value) else f"{value:.2f}x"


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, service, baseline, service/baseline)."""
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, svc: Any, base: Any, unit: str, digits: int = 0) -> None:
        rows.append(
            (label, _fmt(svc, unit, digits), _fmt(base, unit, digits), _ratio_text(svc, base))
        )

    hello = results.get("python_hello") or {}
    for pct in ("p50", "p90", "p99"):
        add(
            f"Python hello {pct} (sequential)",
            _get(hello, "service", f"{pct}_ms"),
            _get(hello, "baseline", f"{pct}_ms"),
            " ms",
        )
    for level, data in (results.get("throughput") or {}).items():
        svc, base = data["service"], data["baseline"]
        add(
            f"c={level} throughput",
            svc["throughput_jobs_per_s"],
            base["throughput_jobs_per_s"],
            " /s",
            2,
        )
        add(f"c={level} p50 latency", svc["p50_ms"], base["p50_ms"], " ms")
        add(f"c={level} p99 latency", svc["p99_ms"], base["p99_ms"], " ms")
        rows.append(
            (
                f"c={level} errors / jobs",
                f"{svc['errors']} / {svc['jobs']}",
                f"{base['errors']} / {base['jobs']}",
                "",
            )
        )
    go = results.get("go_hello")
    if go:
        add(
            "Go hello p50 (compile + run)", go["service"]["p50_ms"], go["baseline"]["p50_ms"], " ms"
        )
    cpu = results.get("cpu") or {}
    add(
        "CPU loop, best (sandbox | native)",
        cpu.get("sandbox_best_ms"),
        cpu.get("native_best_ms"),
        " ms",
    )
    add(
        "CPU loop, median (sandbox | native)",
        cpu.get("sandbox_median_ms"),
        cpu.get("native_median_ms"),
        " ms",
    )
    add(
        "CPU loop, best CPU time (process_time)",
        cpu.get("sandbox_best_cpu_ms"),
        cpu.get("native_best_cpu_ms"),
        " ms",
    )
    mem = results.get("memory") or {}
    add(
        "Idle sandbox PSS (pool | plain ctr)",
        _get(mem, "sandbox", "mean_pss_mib"),
        _get(mem, "baseline_plain_container", "mean_pss_mib"),
        " MiB",
        1,
    )
    add(
        "  of which runsc processes",
        _get(mem, "sandbox", "mean_runsc_pss_mib"),
        _get(mem, "baseline_plain_container", "mean_runsc_pss_mib"),
        " MiB",
        1,
    )
    rows.append(
        (
            "  MemAvailable drop / sandbox",
            _fmt(_get(mem, "meminfo", "per_sandbox_mib"), " MiB", 1),
            "",
            "",
        )
    )
    rows += live_rows(results)
    rows += submission_rows(results)
    return rows


def live_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Live runs: a program's write to the WebSocket client (baseline: the same program's
    stdout through `docker run -i`'s pipe), and the sessions one worker held at once."""
    rows: list[tuple[str, str, str, str]] = []
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
                    _fmt(value, " ms", 1),
                    _fmt(base_value, " ms", 1),
                    _ratio_text(value, base_value),
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
                f"{_fmt(_get(held, 'sandbox_memory', 'mean_pss_mib'), ' MiB', 1)} | "
                f"{_fmt(held['mem_available_drop_mib'], ' MiB')}",
                "",
                "",
            )
        )
    return rows


def submission_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Judge0 submissions (baseline: the docker-run jobs/s at the same concurrency) and the
    store's statements on their own (no baseline)."""
    rows: list[tuple[str, str, str, str]] = []
    subs = results.get("submissions")
    if subs:
        level = str(subs["concurrency"])
        base = _get(results, "throughput", level, "baseline", "throughput_jobs_per_s")
        rows.append(
            (f"Judge0 accepted /s (c={level})", _fmt(subs["accepted_per_s"], " /s", 1), "", "")
        )
        rows.append(
            (
                f"Judge0 accept p50 | p99 (c={level})",
                f"{_fmt(_get(subs, 'accepted', 'p50_ms'), ' ms')} | "
                f"{_fmt(_get(subs, 'accepted', 'p99_ms'), ' ms')}",
                "",
                "",
            )
        )
        rows.append(
            (
                "Judge0 finished /s (all accepted)",
                _fmt(subs["finished_per_s"], " /s", 2),
                _fmt(base, " /s", 2),
                _ratio_text(subs["finished_per_s"], base),
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
                f"{_fmt(subs['read_p50_ms'], ' ms', 1)} | {_fmt(subs['read_p99_ms'], ' ms', 1)}",
                "",
                "",
            )
        )
    for database in ("sqlite", "postgresql"):
        figures = _get(results, "store", database) or {}
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


def render(results: dict[str, Any]) -> str:
    rows = [("figure", "service", "baseline", "ratio"), *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )

    out = [line(rows[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows[1:]]
    out += ["", "targets:"]
    for t in results.get("targets", []):
        value = "-" if t["ratio"] is None else f"{t['ratio']:.3f}x"
        note = f"  ({t['note']})" if t["note"] else ""
        out.append(f"  [{t['result']:>4}] {t['target']}: {value} (limit {t['limit']}){note}")
    cpu = results.get("cpu") or {}
    mem = results.get("memory") or {}
    out += [
        "",
        f"sandbox backend: {results.get('sandbox_backend')}; baseline: {results.get('baseline')}",
        f"cpu: native = {cpu.get('native_interpreter')} (Python "
        f"{cpu.get('native_python_version')}), sandbox Python {cpu.get('sandbox_python_version')};"
        f" {cpu.get('timing')}",
        f"memory: {mem.get('method')}",
        f"startup: {results.get('startup')}; leaks: {results.get('leaks')}; "
        f"load average at start: {_get(results, 'host', 'loadavg_at_start')}",
    ]
    if results.get("quick"):
        out.append("QUICK run: counts are too small for the figures to mean much")
    return "\n".join(out)


def save(results: dict[str, Any], directory: Path, stem: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    text_path = directory / f"{stem}.txt"
    text_path.write_text(render(results) + "\n", encoding="utf-8")
    png_path = directory / f"{stem}.png"
    chart(results, png_path)
    return [json_path, text_path, png_path]


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"service": "tab:blue", "baseline": "tab:orange"}
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    fig.suptitle(
        f"runakode bench ({results.get('started_at')}, backend {results.get('sandbox_backend')}"
        f", {results.get('runtime_s')} s): service vs one docker run per job"
    )

    def bars(
        ax: Any, labels: list[str], series: dict[str, list[float]], title: str, ylabel: str
    ) -> None:
        width = 0.8 / max(len(series), 1)
        for i, (name, values) in enumerate(series.items()):
            xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
            drawn = ax.bar(xs, values, width, label=name, color=colors.get(name))
            ax.bar_label(drawn, fmt="%.0f", fontsize=8)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.legend()

    hello = results.get("python_hello") or {}
    pcts = ["p50", "p90", "p99"]
    bars(
        axes[0][0],
        pcts,
        {side: [_num(_get(hello, side, f"{p}_ms")) for p in pcts] for side in colors},
        "Python hello, sequential",
        "latency (ms)",
    )

    levels = results.get("throughput") or {}
    xs = [int(level) for level in levels]
    ax = axes[0][1]
    for side in colors:
        ax.plot(
            xs,
            [levels[str(x)][side]["throughput_jobs_per_s"] for x in xs],
            "o-",
            color=colors[side],
            label=side,
        )
    ax.set_title("Throughput (Python hello)")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("jobs/s")
    ax.set_xticks(xs)
    ax.legend()

    ax = axes[0][2]
    for side in colors:
        ax.plot(
            xs,
            [levels[str(x)][side]["p50_ms"] for x in xs],
            "o-",
            color=colors[side],
            label=f"{side} p50",
        )
        ax.plot(
            xs,
            [levels[str(x)][side]["p99_ms"] for x in xs],
            "s--",
            color=colors[side],
            label=f"{side} p99",
        )
    ax.set_yscale("log")
    ax.set_title("Latency by concurrency")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("ms (log)")
    ax.set_xticks(xs)
    ax.legend(fontsize=8)

    go = results.get("go_hello") or {}
    bars(
        axes[1][0],
        ["p50", "p90"],
        {side: [_num(_get(go, side, "p50_ms")), _num(_get(go, side, "p90_ms"))] for side in colors},
        "Go hello (compile + run)",
        "latency (ms)",
    )

    cpu = results.get("cpu") or {}
    bars(
        axes[1][1],
        ["best wall", "median wall", "best CPU time"],
        {
            side: [_num(cpu.get(f"{side}_{k}_ms")) for k in ("best", "median", "best_cpu")]
            for side in ("sandbox", "native")
        },
        f"CPU loop ({cpu.get('loop_iterations', 0):,} iterations)",
        "ms",
    )

    mem = results.get("memory") or {}
    bars(
        axes[1][2],
        ["total PSS", "runsc PSS", "supervisor PSS"],
        {
            "pool sandbox": [
                _num(_get(mem, "sandbox", k))
                for k in ("mean_pss_mib", "mean_runsc_pss_mib", "mean_supervisor_pss_mib")
            ],
            "plain container": [
                _num(_get(mem, "baseline_plain_container", k))
                for k in ("mean_pss_mib", "mean_runsc_pss_mib", "mean_supervisor_pss_mib")
            ],
        },
        "Host memory per idle sandbox",
        "MiB",
    )

    verdicts = "   ".join(f"{t['result']}: {t['target']}" for t in results.get("targets", []))
    fig.text(0.5, 0.01, verdicts, ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)
