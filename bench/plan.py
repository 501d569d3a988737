"""What the benchmark runs: the service config it starts, and how many jobs each figure uses."""

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# Merged under a --config file. Rate limiting is off so that the bench measures the sandboxes,
# not the token bucket; 8 workers so that concurrency 8 is not capped by the worker count.
# The runsc backend is the fast configuration; `--config` with `sandboxBackend: docker`
# measures the Docker one.
DEFAULT_SERVICE_CONFIG: dict[str, Any] = {
    "address": "127.0.0.1",
    "sandboxBackend": "runsc",
    "supportedLanguages": ["python", "go"],
    "maxWorkers": 8,
    # Deep enough to absorb the 40-request bursts below; ~23 MiB of host memory each.
    "sandboxPool": {"python": 48, "go": 2},
    "jobMemory": "512m",
    "apiTimeout": "60s",
    "shutdownGrace": "10s",
    "rateLimit": {"requestsPerSecond": 0, "burst": 0},
    # Every submission of the Judge0 phase is accepted (Judge0's default turns away past 100).
    "judge0": {"maxQueueSize": 1000},
}
DEFAULT_IMAGES = {"python": "python-runner", "go": "go-runner"}


@dataclasses.dataclass(frozen=True)
class Plan:
    hello_service: int
    hello_baseline: int
    levels: tuple[int, ...]
    jobs_service: int
    # Per concurrency level: a docker run costs ~0.5-1 s, so the baseline gets fewer jobs.
    jobs_baseline: Mapping[int, int]
    go_service: int
    go_baseline: int
    cpu_runs: int
    cpu_loop: int
    submissions: int
    store_statements: int
    # Lines of the live-output latency program; live sessions one worker holds at once.
    live_lines: int = 200
    live_sessions: int = 64
    warmups: int = 1


FULL = Plan(
    hello_service=40,
    hello_baseline=15,
    levels=(1, 4, 8, 16),
    jobs_service=32,
    jobs_baseline={1: 8, 4: 12, 8: 16, 16: 16},
    go_service=8,
    go_baseline=5,
    cpu_runs=5,
    cpu_loop=5_000_000,
    submissions=160,
    store_statements=200,
)
QUICK = Plan(
    hello_service=5,
    hello_baseline=2,
    levels=(1, 8),
    jobs_service=8,
    jobs_baseline={1: 2, 8: 4},
    go_service=1,
    go_baseline=1,
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


def pool_target(config: Mapping[str, Any]) -> int:
    pool = config.get("sandboxPool") or {}
    return sum(int(pool.get(language, 0)) for language in config["supportedLanguages"])


def backend(config: Mapping[str, Any]) -> str:
    """The sandbox backend the service uses: `sandboxBackend` if the config sets it."""
    return str(config.get("sandboxBackend", "docker"))
