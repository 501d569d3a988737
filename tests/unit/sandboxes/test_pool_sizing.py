import math

import pytest

from runakode.sandboxes import pool_sizing
from runakode.sandboxes.pool_sizing import Demand
from unit.fakes import FakeClock


def test_a_kind_nobody_asked_for_keeps_no_idle_sandbox() -> None:
    assert Demand(FakeClock()).target("python") == 0


def test_the_first_request_makes_the_most_used_kind_keep_its_floor() -> None:
    demand = Demand(FakeClock())
    demand.arrived("python")
    assert demand.target("python") == pool_sizing.MOST_USED_FLOOR


def test_a_rarely_used_kind_keeps_one_and_the_main_one_two() -> None:
    demand = Demand(FakeClock())
    for _ in range(20):
        demand.arrived("python")
    demand.arrived("ruby")
    assert demand.target("python") == pool_sizing.MOST_USED_FLOOR
    assert demand.target("ruby") == pool_sizing.RECENT_FLOOR


def test_the_target_follows_arrival_rate_times_boot_time() -> None:
    clock = FakeClock()
    demand = Demand(clock)
    demand.booted("python", 0.5)
    demand.booted("python", 0.5)
    boot_s = demand.boot_s("python")
    # 40 jobs over the last 10 s: 4 per second.
    for _ in range(40):
        demand.arrived("python")
        clock.now += 0.25
    expected = math.ceil(pool_sizing.BURST_FACTOR * 4 * boot_s)
    assert demand.target("python") == expected
    assert expected > pool_sizing.MOST_USED_FLOOR


def test_slow_boots_call_for_more_idle_sandboxes() -> None:
    clock = FakeClock()
    fast, slow = Demand(clock), Demand(clock)
    for _ in range(10):
        slow.booted("python", 3.0)
    for _ in range(60):
        fast.arrived("python")
        slow.arrived("python")
        clock.now += 0.25
    assert slow.target("python") > fast.target("python")


def test_a_burst_counts_at_once_and_fades_with_the_long_window() -> None:
    clock = FakeClock()
    demand = Demand(clock)
    for _ in range(200):
        demand.arrived("python")
    burst = demand.target("python")
    assert burst == math.ceil(pool_sizing.BURST_FACTOR * 20 * pool_sizing.DEFAULT_BOOT_S)
    clock.now += 30  # out of the short window, still in the long one
    assert pool_sizing.MOST_USED_FLOOR < demand.target("python") < burst


def test_demand_is_forgotten_after_a_quiet_while() -> None:
    clock = FakeClock()
    demand = Demand(clock)
    demand.arrived("python")
    clock.now += pool_sizing.FORGET_AFTER_S + 1
    assert demand.target("python") == 0


def test_the_target_is_capped() -> None:
    demand = Demand(FakeClock())
    demand.booted("python", 60.0)
    for _ in range(1000):
        demand.arrived("python")
    assert demand.target("python") == pool_sizing.MAX_IDLE


@pytest.mark.parametrize("seconds", [0.2, 2.0])
def test_boot_time_is_smoothed_towards_what_is_measured(seconds: float) -> None:
    demand = Demand(FakeClock())
    for _ in range(30):
        demand.booted("python", seconds)
    assert demand.boot_s("python") == pytest.approx(seconds, rel=0.01)
