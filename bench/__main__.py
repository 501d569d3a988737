"""`python -m bench`: the real service against one `docker run` per job, in one run.

Exit status: 0 when the run completed (targets are reported, not enforced, unless
--check-targets), 1 when the run itself failed, 3 when --check-targets and a target failed.
"""

import argparse
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from bench import plan, report, targets
from bench.run import Bench, default_native_python

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="service config (YAML) merged over the bench's defaults; address and port are "
        "always 127.0.0.1 and a free port",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (few requests)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    parser.add_argument(
        "--native-python",
        default=None,
        help="interpreter for the native side of the CPU-bound figure (default: /usr/bin/python3,"
        " the same Debian build as the sandbox image's)",
    )
    parser.add_argument(
        "--check-targets", action="store_true", help="exit 3 when a target is not met"
    )
    return parser


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # Unwinds through the finally blocks that stop the service and remove containers.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    override: dict[str, Any] = plan.read_config(args.config) if args.config else {}
    the_plan = plan.QUICK if args.quick else plan.FULL
    args.out.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("bench-%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    native = args.native_python or default_native_python()
    bench = Bench(the_plan, override, args.out, native, log_name=f"{stem}-service.log")
    started = time.monotonic()
    try:
        results = bench.run()
    except KeyboardInterrupt:
        print("bench: interrupted; service stopped", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"bench: failed after {time.monotonic() - started:.0f} s", file=sys.stderr)
        return 1
    results["quick"] = args.quick
    results["targets"] = targets.targets(results)
    paths = report.save(results, args.out, stem)
    print()
    print(report.render(results))
    print()
    print(f"runtime: {results['runtime_s']:.1f} s")
    for path in paths:
        print(f"saved: {path}")
    print(f"service log: {bench.log_path}")
    if args.check_targets and any(t["result"] == "FAIL" for t in results["targets"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
