"""How many idle sandboxes of each kind to keep, from recent demand.

A job that finds an idle sandbox skips the boot; one that does not boots its own. To keep up
with jobs arriving at a rate r while each refill takes a boot of b seconds, about r x b idle
sandboxes are needed (Little's law); twice that absorbs the bursts around the average. Kinds
nobody asked for lately keep none, recently used ones at least one, and the most used two.
"""

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

# Arrival rates are measured over both windows and the higher one counts: a burst is seen at
# once, and a steady rate is not forgotten between two bursts.
SHORT_WINDOW_S = 10.0
LONG_WINDOW_S = 60.0
# A kind nobody has asked for in this long keeps no idle sandbox (its first job boots one).
FORGET_AFTER_S = 600.0
BURST_FACTOR = 2.0
# A kind with at least this share of the recent jobs is among the most used.
MOST_USED_SHARE = 0.25
MOST_USED_FLOOR = 2
RECENT_FLOOR = 1
MAX_IDLE = 32
# Before the first boot of a kind is measured (a gVisor sandbox boots in ~0.3-0.5 s here).
DEFAULT_BOOT_S = 0.5
BOOT_SMOOTHING = 0.3


@dataclass
class _Kind:
    arrivals: deque[float] = field(default_factory=deque)
    boot_s: float = DEFAULT_BOOT_S


class Demand:
    """Arrivals and boot times per kind of sandbox, and the idle count each calls for."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kinds: dict[Hashable, _Kind] = {}

    def arrived(self, kind: Hashable) -> None:
        self._kinds.setdefault(kind, _Kind()).arrivals.append(self._clock())

    def booted(self, kind: Hashable, seconds: float) -> None:
        entry = self._kinds.setdefault(kind, _Kind())
        entry.boot_s += BOOT_SMOOTHING * (seconds - entry.boot_s)

    def boot_s(self, kind: Hashable) -> float:
        entry = self._kinds.get(kind)
        return entry.boot_s if entry is not None else DEFAULT_BOOT_S

    def last_arrival_age_s(self, kind: Hashable) -> float:
        entry = self._kinds.get(kind)
        if entry is None or not entry.arrivals:
            return math.inf
        return self._clock() - entry.arrivals[-1]

    def target(self, kind: Hashable) -> int:
        now = self._clock()
        self._forget_before(now - FORGET_AFTER_S)
        entry = self._kinds.get(kind)
        if entry is None or not entry.arrivals:
            return 0
        rate = max(
            self._count_since(entry, now - SHORT_WINDOW_S) / SHORT_WINDOW_S,
            self._count_since(entry, now - LONG_WINDOW_S) / LONG_WINDOW_S,
        )
        recent_total = sum(len(other.arrivals) for other in self._kinds.values())
        most_used = len(entry.arrivals) >= MOST_USED_SHARE * recent_total
        floor = MOST_USED_FLOOR if most_used else RECENT_FLOOR
        wanted = math.ceil(BURST_FACTOR * rate * entry.boot_s)
        return min(MAX_IDLE, max(floor, wanted))

    def _forget_before(self, cutoff: float) -> None:
        for entry in self._kinds.values():
            while entry.arrivals and entry.arrivals[0] < cutoff:
                entry.arrivals.popleft()

    @staticmethod
    def _count_since(entry: _Kind, since: float) -> int:
        count = 0
        for arrived_at in reversed(entry.arrivals):
            if arrived_at < since:
                break
            count += 1
        return count
