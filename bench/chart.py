"""The PNG: each figure of the service beside its baseline, targets drawn where there is one."""

import textwrap
from pathlib import Path
from typing import Any

from bench import targets
from bench.programs import HELLO_LIMITS
from bench.targets import LANGUAGE_NAMES, get, num

COLORS = {"service": "tab:blue", "baseline": "tab:orange"}
STATUS_COLORS = {200: "tab:green", 503: "tab:orange", 504: "tab:red", 0: "black"}


def _bars(
    ax: Any, labels: list[str], series: dict[str, list[float]], title: str, ylabel: str
) -> list[float]:
    """Grouped bars; returns the x of each label's first bar (the service's)."""
    width = 0.8 / max(len(series), 1)
    firsts: list[float] = []
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        firsts = firsts or xs
        drawn = ax.bar(xs, values, width, label=name, color=COLORS.get(name))
        ax.bar_label(drawn, fmt="%.0f" if max(values, default=0) >= 10 else "%.2f", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    return firsts


def _limit_marks(ax: Any, xs: list[float], limits: list[float]) -> None:
    """A short black line where each service bar would meet its target."""
    for x, limit in zip(xs, limits, strict=True):
        ax.hlines(limit, x - 0.25, x + 0.25, colors="black", linestyles="dashed", linewidth=1)
    ax.plot([], [], "k--", linewidth=1, label="target")
    ax.legend(fontsize=7)


def _hello(ax: Any, results: dict[str, Any]) -> None:
    languages = [lang for lang in LANGUAGE_NAMES if get(results, "hello", lang)]
    series = {
        side: [num(get(results, "hello", lang, side, "p50_ms")) for lang in languages]
        for side in COLORS
    }
    xs = _bars(
        ax,
        [LANGUAGE_NAMES[lang] for lang in languages],
        series,
        "Hello world p50 (service paced)",
        "ms",
    )
    limits = [
        HELLO_LIMITS[lang] * base for lang, base in zip(languages, series["baseline"], strict=True)
    ]
    _limit_marks(ax, xs, limits)


def _sustained(ax_rate: Any, ax_latency: Any, results: dict[str, Any]) -> None:
    data = get(results, "sustained") or {}
    title = f"Sustained: {data.get('clients', '-')} clients, {num(data.get('duration_s')):.0f} s"
    rates = {side: [num(get(data, side, "throughput_jobs_per_s"))] for side in COLORS}
    xs = _bars(ax_rate, ["Python hello"], rates, title, "jobs/s")
    _limit_marks(ax_rate, xs, [targets.SUSTAINED_THROUGHPUT_LIMIT * rates["baseline"][0]])
    pcts = ["p50", "p90", "p99"]
    _bars(
        ax_latency,
        pcts,
        {side: [num(get(data, side, f"{p}_ms")) for p in pcts] for side in COLORS},
        "Sustained: latency",
        "ms",
    )
    ax_latency.legend(fontsize=7)


def _compiled(ax: Any, results: dict[str, Any]) -> None:
    rows = [
        ("C++ new", "cpp_hello", "service", targets.CPP_NEW_LIMIT),
        ("C++ again", "cpp_hello", "service_again", targets.CPP_AGAIN_LIMIT),
        ("Rust new", "rust_hello", "service", targets.RUST_LIMIT),
        ("Go new", "go_hello", "service", None),
    ]
    shown = [row for row in rows if get(results, row[1], row[2])]
    series = {
        "service": [num(get(results, key, side, "p50_ms")) for _, key, side, _ in shown],
        "baseline": [num(get(results, key, "baseline", "p50_ms")) for _, key, _, _ in shown],
    }
    xs = _bars(ax, [row[0] for row in shown], series, "Compiled hello world p50", "ms")
    marked = [
        (x, row[3] * base)
        for x, row, base in zip(xs, shown, series["baseline"], strict=True)
        if row[3]
    ]
    _limit_marks(ax, [x for x, _ in marked], [limit for _, limit in marked])


def _batch(ax: Any, results: dict[str, Any]) -> None:
    data = get(results, "judge0_batch") or {}
    size = data.get("batch_size", 20)
    one, batch = num(data.get("one_median_s")), num(data.get("batch_median_s"))
    drawn = ax.bar([0, 1], [one, batch], 0.6, color=["tab:orange", "tab:blue"])
    ax.bar_label(drawn, fmt="%.2f", fontsize=7)
    ax.set_xticks([0, 1], ["one submission", f"batch of {size}"], fontsize=8)
    ax.hlines(targets.BATCH_LIMIT * one, 0.7, 1.3, colors="black", linestyles="dashed")
    ax.set_title("Judge0 C++: batch vs one (to all ended)", fontsize=10)
    ax.set_ylabel("s")


def _overload(ax: Any, results: dict[str, Any]) -> None:
    data = get(results, "overload") or {}
    ax.set_title(f"Overload: {data.get('requests', '-')} requests at once", fontsize=10)
    labels = ["200", "503", "other"]
    counts = [
        num(get(data, "ok_200", "count")),
        num(get(data, "refused_503", "count")),
        num(data.get("other")),
    ]
    drawn = ax.bar(range(3), counts, 0.6, color=["tab:green", "tab:orange", "tab:red"])
    ax.bar_label(drawn, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(3), labels, fontsize=8)
    ax.set_ylabel("answers")
    worst = num(get(data, "refused_503", "max_ms"))
    ax.set_xlabel(f"slowest 503: {worst:.0f} ms (target: at most 1000 ms)", fontsize=8)


def _cpu(ax: Any, results: dict[str, Any]) -> None:
    cpu = results.get("cpu") or {}
    _bars(
        ax,
        ["best wall", "median wall", "best CPU time"],
        {
            side: [num(cpu.get(f"{side}_{k}_ms")) for k in ("best", "median", "best_cpu")]
            for side in ("sandbox", "native")
        },
        f"CPU loop ({cpu.get('loop_iterations', 0):,} iterations)",
        "ms",
    )
    ax.legend(fontsize=7)


def _memory(ax: Any, results: dict[str, Any]) -> None:
    mem = results.get("memory") or {}
    keys = ("mean_pss_mib", "mean_runsc_pss_mib", "mean_supervisor_pss_mib")
    _bars(
        ax,
        ["total PSS", "runsc PSS", "supervisor PSS"],
        {
            "pool sandbox": [num(get(mem, "sandbox", k)) for k in keys],
            "plain container": [num(get(mem, "baseline_plain_container", k)) for k in keys],
        },
        "Host memory per idle Python sandbox",
        "MiB",
    )
    ax.legend(fontsize=7)


def draw(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(20, 10))
    fig.suptitle(
        f"runakode bench ({results.get('started_at')}, default config, backend "
        f"{results.get('sandbox_backend')}, {results.get('runtime_s')} s): service vs one "
        "docker run per job"
    )
    _hello(axes[0][0], results)
    _sustained(axes[0][1], axes[0][2], results)
    _compiled(axes[0][3], results)
    _batch(axes[1][0], results)
    _overload(axes[1][1], results)
    _cpu(axes[1][2], results)
    _memory(axes[1][3], results)
    verdicts = "   ".join(f"{t['result']}: {t['target']}" for t in results.get("targets", []))
    fig.text(0.5, 0.01, textwrap.fill(verdicts, 230), ha="center", fontsize=7)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)
