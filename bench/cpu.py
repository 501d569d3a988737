"""A CPU-bound Python loop in a sandbox (through the service) and natively, runs interleaved."""

import math
import subprocess
from typing import Any

from bench import jobs
from bench.phase import Context, log
from bench.stats import percentile


def _python_version(argv: list[str]) -> str:
    done = subprocess.run(
        [*argv, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout.strip() or f"? ({done.stderr.strip()[:100]})"


def _sandbox_python_version(ctx: Context) -> str:
    got = ctx.client.run("python", "import platform; print(platform.python_version())", None)
    return got.stdout.strip() or f"? ({got.error[:100]})"


def _loop_ms(outcome: jobs.Outcome, checksum: str) -> tuple[float, float] | None:
    """(wall ms, cpu ms) that the program printed, if it ran right."""
    parts = outcome.stdout.split()
    if not outcome.ok or len(parts) != 3 or parts[2] != checksum:
        return None
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        return None


def measure(ctx: Context, native_python: str) -> dict[str, Any]:
    loop = ctx.plan.cpu_loop
    log(f"cpu-bound loop ({loop:,} iterations), sandbox vs native")
    source = jobs.cpu_program(loop)
    checksum = str(jobs.cpu_checksum(loop))
    sandbox_version = _sandbox_python_version(ctx)
    runs: dict[str, list[tuple[float, float]]] = {"sandbox": [], "native": []}
    exec_ms: list[float] = []
    errors: list[str] = []
    for _ in range(ctx.plan.cpu_runs):
        ctx.settle()
        got = ctx.client.run("python", source, expect=None)
        native = jobs.native_python(native_python, source)
        for side, outcome in (("sandbox", got), ("native", native)):
            timed = _loop_ms(outcome, checksum)
            if timed is None:
                errors.append(f"{side}: {outcome.error or outcome.stdout[:80]}")
            else:
                runs[side].append(timed)
        if got.ok and got.exec_time_ms is not None:
            exec_ms.append(got.exec_time_ms)
    figures: dict[str, Any] = {}
    for side, pairs in runs.items():
        wall = [w for w, _ in pairs]
        cpu = [c for _, c in pairs]
        figures[f"{side}_ms"] = [round(w, 1) for w in wall]
        figures[f"{side}_cpu_ms"] = [round(c, 1) for c in cpu]
        figures[f"{side}_best_ms"] = round(min(wall, default=math.nan), 1)
        figures[f"{side}_median_ms"] = round(percentile(wall, 50), 1)
        figures[f"{side}_best_cpu_ms"] = round(min(cpu, default=math.nan), 1)
    log(
        f"  sandbox best {figures['sandbox_best_ms']:.0f} ms, "
        f"native best {figures['native_best_ms']:.0f} ms (wall)"
    )
    return {
        "loop_iterations": loop,
        "timing": "wall time (perf_counter) around the loop, inside the program, best of the "
        "runs (noise on a shared host only adds time); *_cpu_ms: process_time, for reference",
        "native_interpreter": native_python,
        "native_python_version": _python_version([native_python]),
        "sandbox_python_version": sandbox_version,
        **figures,
        "sandbox_exec_time_ms": exec_ms,
        "errors": errors,
    }
