"""The printed report (table, targets, notes) and the JSON, text and PNG files."""

import json
from pathlib import Path
from typing import Any

from bench import chart, table
from bench.plan import PACE_S
from bench.targets import get


def _table(results: dict[str, Any]) -> list[str]:
    rows = [("figure", "service", "baseline", "ratio"), *table.rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]

    def line(row: table.Row) -> str:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    return [line(rows[0]), "  ".join("-" * w for w in widths), *(line(row) for row in rows[1:])]


def _targets(results: dict[str, Any]) -> list[str]:
    found = results.get("targets", [])
    passed = sum(1 for t in found if t["result"] == "PASS")
    failed = sum(1 for t in found if t["result"] == "FAIL")
    out = [f"targets (issue 11; {passed} PASS, {failed} FAIL, {len(found) - passed - failed} n/a):"]
    for t in found:
        note = f"  ({t['note']})" if t["note"] else ""
        out.append(f"  [{t['result']:>4}] {t['target']}: {t['shown']} (limit {t['limit']}){note}")
    return out


def _notes(results: dict[str, Any]) -> list[str]:
    cpu = results.get("cpu") or {}
    mem = results.get("memory") or {}
    out = [
        f"hello rows: the service gets one request at a time, one every {PACE_S:g} s at most "
        "(latency at a pace this host sustains; the sustained-load rows measure throughput), "
        "after one first request per language (the pool keeps none for a language nobody "
        "asked for; that first request: "
        + ", ".join(
            f"{language} {get(data, 'first_request', 'ms')} ms"
            for language, data in (results.get("hello") or {}).items()
        )
        + "); the baseline runs one job after another.",
        "compiled rows: each request on a settled pool, each source never compiled before "
        "(a nonce in a comment); 'same source again' resubmits the source just compiled. "
        "The baseline compiles with the same flags in the same image.",
        f"service: default config, backend {results.get('sandbox_backend')}; baseline: "
        f"{results.get('baseline')}",
        f"cpu: native = {cpu.get('native_interpreter')} (Python "
        f"{cpu.get('native_python_version')}), sandbox Python {cpu.get('sandbox_python_version')};"
        f" {cpu.get('timing')}",
        f"memory ({mem.get('pool')}): {mem.get('method')}",
        f"startup: {results.get('startup')}; leaks: {results.get('leaks')}; "
        f"load average at start: {get(results, 'host', 'loadavg_at_start')}",
    ]
    if results.get("quick"):
        out.append("QUICK run: counts are too small for the figures to mean much")
    return out


def render(results: dict[str, Any]) -> str:
    return "\n".join([*_table(results), "", *_targets(results), "", *_notes(results)])


def save(results: dict[str, Any], directory: Path, stem: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    text_path = directory / f"{stem}.txt"
    text_path.write_text(render(results) + "\n", encoding="utf-8")
    png_path = directory / f"{stem}.png"
    chart.draw(results, png_path)
    return [json_path, text_path, png_path]
