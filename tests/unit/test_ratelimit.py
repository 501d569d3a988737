"""ratelimit.TokenBucketLimiter with a fake clock."""

import pytest

from runakode.ratelimit import TokenBucketLimiter, retry_after_header
from unit.fakes import FakeClock


def test_burst_is_allowed_then_denied(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") > 0


def test_refills_one_token_after_one_over_rate_seconds(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=4, burst=1, clock=clock)
    assert limiter.acquire("a") == 0
    clock.advance(0.2)
    assert limiter.acquire("a") > 0  # 0.8 tokens: not yet
    clock.advance(0.05)
    assert limiter.acquire("a") == 0  # 1/rate = 0.25 s after the first
    assert limiter.acquire("a") > 0


def test_refill_never_exceeds_burst(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=10, burst=2, clock=clock)
    limiter.acquire("a")
    clock.advance(3600)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]


def test_retry_after_is_the_time_until_the_next_token(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=2, burst=1, clock=clock)
    limiter.acquire("a")
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.advance(0.3)
    assert limiter.acquire("a") == pytest.approx(0.2)


def test_denied_requests_take_no_token(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=clock)
    limiter.acquire("a")
    for _ in range(5):
        clock.advance(0.1)
        assert limiter.acquire("a") > 0
    clock.advance(0.5)  # 1 s after the granted request in all
    assert limiter.acquire("a") == 0


@pytest.mark.parametrize(("wait", "header"), [(0.01, 1), (0.5, 1), (1.0, 1), (1.01, 2), (9.5, 10)])
def test_retry_after_header_rounds_up_to_whole_seconds(wait: float, header: int) -> None:
    assert retry_after_header(wait) == header


def test_keys_are_independent(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=clock)
    assert limiter.acquire("10.0.0.1") == 0
    assert limiter.acquire("10.0.0.1") > 0
    assert limiter.acquire("10.0.0.2") == 0


def test_full_buckets_are_evicted(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=1, burst=2, clock=clock)
    for key in ("a", "b", "c"):
        limiter.acquire(key)
    assert len(limiter) == 3
    clock.advance(1.0)  # every bucket is full again
    limiter.acquire("d")
    assert len(limiter) == 1


def test_client_count_is_capped(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, max_clients=3, clock=clock)
    for index in range(100):
        assert limiter.acquire(f"client-{index}") == 0
        assert len(limiter) <= 3
    assert len(limiter) == 3


def test_the_least_recently_used_client_is_dropped_first(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, max_clients=2, clock=clock)
    limiter.acquire("old")
    limiter.acquire("recent")
    assert limiter.acquire("recent") > 0  # a denial also marks "recent" as used
    limiter.acquire("new")  # over the cap: "old" goes, "recent" stays
    assert limiter.acquire("recent") > 0
    assert limiter.acquire("old") == 0  # forgotten, so it starts with a full bucket
