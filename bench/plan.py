"""What the benchmark runs: the service config it starts, and how many jobs each figure uses."""

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from runakode.config import default_image

# Merged under a --config file. The service runs with its own defaults (backend, languages,
# workers, a pool that sizes itself, memory, timeouts): only what the harness itself needs is
# set here. Address and port are the bench's; its store and compile cache are its own (service.py).
DEFAULT_SERVICE_CONFIG: dict[str, Any] = {
    "address": "127.0.0.1",
    # Every client of the bench is one address (127.0.0.1), and the overload target is
    # stated with the rate limit off: the token bucket would answer 429 in the sandboxes' place.
    "rateLimit": {"requestsPerSecond": 0, "burst": 0},
    # The Judge0 submissions phase posts all of its submissions before most have ended; past
    # Judge0's default queue of 100 waiting, the rest would be refused (503 "queue is full").
    "judge0": {"maxQueueSize": 1000},
}
# As the service's own default sandboxImages: "<language>-runner".
LANGUAGES = ("python", "javascript", "ruby", "php", "cpp", "rust", "go")
DEFAULT_IMAGES = {language: default_image(language) for language in LANGUAGES}
# Sequential service requests arrive at an interactive pace (one every PACE_S at most): that is
# latency at a pace this 2-core host sustains; the sustained-load figure measures throughput.
PACE_S = 1.0


@dataclasses.dataclass(frozen=True)
class Plan:
    # Hello world per language (Python, JavaScript, Ruby, PHP): paced service, sequential baseline.
    hello_service: int
    hello_baseline: int
    # Service requests at the same pace before the measured ones: the pool sizes itself from
    # the demand it has seen, and a language's first requests find it still small.
    hello_warmup: int
    # Sustained load: clients in a closed loop for a time, for each side.
    sustained_clients: int
    sustained_s: float
    sustained_baseline_s: float
    # Compiled hello worlds, each a source never seen (C++ also submitted a second time).
    cpp_service: int
    cpp_baseline: int
    rust_service: int
    rust_baseline: int
    go_service: int
    go_baseline: int
    # Judge0: one C++ submission against a batch of `batch_size`, `batch_runs` times each.
    batch_runs: int
    batch_size: int
    overload_requests: int
    cpu_runs: int
    cpu_loop: int
    submissions: int
    store_statements: int
    # Lines of the live-output latency program; live sessions one worker holds at once.
    live_lines: int = 200
    live_sessions: int = 64
    # Baseline jobs run unmeasured before each baseline series (image and page caches).
    warmups: int = 1

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FULL = Plan(
    hello_service=24,
    hello_baseline=8,
    hello_warmup=6,
    sustained_clients=8,
    sustained_s=30.0,
    sustained_baseline_s=30.0,
    cpp_service=5,
    cpp_baseline=4,
    rust_service=3,
    rust_baseline=3,
    go_service=3,
    go_baseline=3,
    batch_runs=3,
    batch_size=20,
    overload_requests=200,
    cpu_runs=5,
    cpu_loop=5_000_000,
    submissions=100,
    store_statements=200,
)
QUICK = Plan(
    hello_service=5,
    hello_baseline=2,
    hello_warmup=3,
    sustained_clients=8,
    sustained_s=5.0,
    sustained_baseline_s=5.0,
    cpp_service=1,
    cpp_baseline=1,
    rust_service=1,
    rust_baseline=1,
    go_service=1,
    go_baseline=1,
    batch_runs=1,
    batch_size=20,
    overload_requests=200,
    cpu_runs=1,
    cpu_loop=1_000_000,
    submissions=16,
    store_statements=20,
    live_lines=30,
    live_sessions=8,
    warmups=0,
)


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in top.items():
        old = merged.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = merge(old, value)
        else:
            merged[key] = value
    return merged


def read_config(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must hold a mapping of keys")
    return data


def service_config(override: Mapping[str, Any], port: int) -> dict[str, Any]:
    """The bench's defaults, the override over them; it always listens on 127.0.0.1:port."""
    config = merge(DEFAULT_SERVICE_CONFIG, override)
    config["address"] = "127.0.0.1"
    config["port"] = port
    return config


def images(config: Mapping[str, Any]) -> dict[str, str]:
    return {**DEFAULT_IMAGES, **dict(config.get("sandboxImages") or {})}
