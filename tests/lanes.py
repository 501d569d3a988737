"""`make test`: the whole suite as two pytest processes at once, each line of their output
prefixed with its lane, then the few tests marked `alone` by themselves; exits non-zero when
any of them fails.

Much of the integration suite waits rather than computes (a worker's grace period, an API
time-out, a broker outage, a sweep interval), so those tests run beside the CPU-bound ones
instead of after them. Every test isolates what it creates (its own ports, queue prefix, store,
database and sandbox owner), so the lanes share nothing but the machine; each has its own
pytest temporary directory, since pytest prunes the numbered ones of other runs. A test marked
`alone` needs the host to itself: it checks who removes a dead worker's sandboxes (any other
worker on the host may), or how fast the service refuses a flood (which the lanes' load would
change); those run once the lanes have ended.

    python tests/lanes.py [PYTEST_ARGS...]   (the arguments go to every lane)
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = "tests/integration"


def _integration(*names: str) -> list[str]:
    return [f"{INTEGRATION}/{name}.py" for name in names]


# Tests that mostly wait (grace periods, time-outs, outages, restarts), and the unit tests:
# about a third of the suite's time, run beside the rest. A third lane was tried: the hostile
# programs' "the service answers within a second after each" then failed under the load.
WAITING = [
    *_integration(
        "test_faults",
        "test_leaks",
        "test_service_modes",
        "test_overload",
        "test_judge0_recovery",
        "test_rabbitmq_broker",
        "test_judge0_clients",
        "test_missing_image",
        "test_store",
        "test_terminal_client_live",
        "test_openapi_tools",
    ),
    "tests/unit",
]
NOT_ALONE = ["-m", "not alone"]
LANES = {
    "waits": [*WAITING, *NOT_ALONE],
    # The rest: the per-language programs, hostile programs, live sessions, the route families.
    "main": [INTEGRATION, *(f"--ignore={path}" for path in WAITING), *NOT_ALONE],
}
AFTER_THE_LANES = {"alone": [INTEGRATION, "-m", "alone"]}
# pytest's "no tests ran": not a failure when the caller's own arguments selected nothing here.
NO_TESTS_COLLECTED = 5


def _pump(lane: str, process: subprocess.Popen[str], lock: threading.Lock) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        with lock:
            sys.stdout.write(f"[{lane}] {line}")
            sys.stdout.flush()


def main(extra: list[str]) -> int:
    started = time.monotonic()
    codes = run_at_once(LANES, extra, started)
    codes.update(run_at_once(AFTER_THE_LANES, extra, started))
    allowed = {0, NO_TESTS_COLLECTED} if extra else {0}
    failed = {lane: code for lane, code in codes.items() if code not in allowed}
    print(f"lanes: {'failed ' + str(failed) if failed else 'all passed'}", flush=True)
    return 1 if failed else 0


def run_at_once(lanes: dict[str, list[str]], extra: list[str], started: float) -> dict[str, int]:
    """Each lane's pytest exit status, once all have ended."""
    lock = threading.Lock()
    running: dict[str, tuple[subprocess.Popen[str], threading.Thread]] = {}
    for lane, selection in lanes.items():
        basetemp = ROOT / "build" / "test-lanes" / lane
        basetemp.parent.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *selection, f"--basetemp={basetemp}", *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        pump = threading.Thread(target=_pump, args=(lane, process, lock), daemon=True)
        pump.start()
        running[lane] = (process, pump)
    codes: dict[str, int] = {}
    for lane, (process, pump) in running.items():
        codes[lane] = process.wait()
        pump.join()
        print(f"[{lane}] exit {codes[lane]} after {time.monotonic() - started:.0f} s", flush=True)
    return codes


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
