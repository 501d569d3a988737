"""What the service reports in GET /metrics that the bench reads: the pool's idle sandboxes and
target per language, and counters such as the compile cache's hits."""

import dataclasses
import re

import httpx

_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclasses.dataclass(frozen=True)
class Kind:
    idle: int
    target: int


PoolState = dict[str, Kind]


def read(url: str) -> str:
    response = httpx.get(f"{url}/metrics", timeout=10.0)
    response.raise_for_status()
    return response.text


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Each sample of metric `name`: its labels and its value."""
    found = []
    for metric, labels, value in _SAMPLE.findall(text):
        if metric == name:
            found.append((dict(_LABEL.findall(labels)), float(value)))
    return found


def total(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for found, value in samples(text, name)
        if all(found.get(key) == wanted for key, wanted in labels.items())
    )


def parse_pool(text: str) -> PoolState:
    """The languages with both gauges; empty for a service that exposes neither."""
    gauges: dict[str, dict[str, int]] = {}
    for kind in ("idle", "target"):
        for labels, value in samples(text, f"runakode_pool_{kind}_sandboxes"):
            gauges.setdefault(labels.get("language", "?"), {})[kind] = int(value)
    return {
        language: Kind(values["idle"], values["target"])
        for language, values in gauges.items()
        if "idle" in values and "target" in values
    }


def read_pool(url: str) -> PoolState:
    return parse_pool(read(url))


def full(state: PoolState) -> bool:
    return all(kind.idle >= kind.target for kind in state.values())


def describe(state: PoolState) -> str:
    """`python 2/2, cpp 0/1`: idle/target of the languages the pool keeps or holds any of."""
    kept = [f"{lang} {k.idle}/{k.target}" for lang, k in state.items() if k.idle or k.target]
    return ", ".join(kept) or "empty"
