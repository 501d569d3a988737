import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucketLimiter:
    """A token bucket per client key: `rate` tokens a second, at most `burst` saved up."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max_clients = max_clients
        self._clock = clock
        # key -> (tokens, last refill time); oldest-touched first, so the idle are dropped first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str) -> float:
        """Take one token; return 0 if allowed, else the seconds until a token is available."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            self._evict()
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self._rate

    def _evict(self) -> None:
        # A bucket that is full again holds no state worth keeping; beyond the cap, drop the oldest.
        while self._buckets:
            key, (tokens, last) = next(iter(self._buckets.items()))
            refilled = tokens + (self._clock() - last) * self._rate >= self._burst
            if not refilled and len(self._buckets) <= self._max_clients:
                return
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))
