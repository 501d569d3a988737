"""admission.Admission: the backlog, the rate its runs end at while every worker is busy, and
whether a run can still be answered within its deadline (api/test_admitted.py: the routes)."""

import pytest

from runakode.admission import HEADROOM, WINDOW_S, Admission
from runakode.errors import Overloaded
from unit.fakes import FakeClock
from unit.helpers import refusals, run_one_by_one


def run_in_waves(admission: Admission, clock: FakeClock, waves: int, each_s: float) -> None:
    """`waves` waves of runs, each wave filling every worker; admitted all at once."""
    tickets = [admission.admit(600) for _ in range(waves * admission.capacity)]
    for start in range(0, len(tickets), admission.capacity):
        clock.advance(each_s)
        for ticket in tickets[start : start + admission.capacity]:
            ticket.release(answered=True)


# --- the estimate -----------------------------------------------------------------------------


def test_no_rate_until_the_window_holds_enough_answers(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 3, 1.0)
    assert admission.rate() is None
    assert admission.answer_in_s() is None
    run_one_by_one(admission, clock, 1, 1.0)
    assert admission.rate() == pytest.approx(1.0)


def test_light_traffic_tells_nothing_of_the_rate(clock: FakeClock) -> None:
    # One run at a time on two workers: one worker idle all along.
    admission = Admission(2, clock=clock)
    run_one_by_one(admission, clock, 50, 0.1)
    assert admission.rate() is None


def test_the_rate_is_what_every_worker_busy_answers(clock: FakeClock) -> None:
    admission = Admission(2, clock=clock)
    # Three waves of two, 1 s each: the last answer comes with a worker already idle.
    run_in_waves(admission, clock, 3, 1.0)
    run_in_waves(admission, clock, 3, 1.0)
    # Counted: five answers per three busy seconds, twice.
    assert admission.rate() == pytest.approx(10 / 6)


def test_time_with_a_worker_idle_does_not_count(clock: FakeClock) -> None:
    admission = Admission(2, clock=clock)
    run_in_waves(admission, clock, 5, 1.0)
    rate = admission.rate()
    run_one_by_one(admission, clock, 1, 100.0)
    assert rate is not None and admission.rate() == pytest.approx(rate)


def test_a_backlog_beyond_the_workers_shows_their_throughput(clock: FakeClock) -> None:
    admission = Admission(2, clock=clock)
    tickets = [admission.admit(600) for _ in range(12)]
    for wave in range(5):
        clock.advance(1.0)
        for ticket in tickets[2 * wave : 2 * wave + 2]:
            ticket.release(answered=True)
    # Ten answers in five seconds, whatever the ten runs still queued.
    assert admission.rate() == pytest.approx(2.0)


def test_idle_time_does_not_age_the_rate(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 4, 0.5)
    clock.advance(3600)
    assert admission.rate() == pytest.approx(2.0)


def test_runs_that_were_not_answered_slow_the_rate(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 4, 1.0)
    timed_out = admission.admit(60)
    clock.advance(4.0)
    timed_out.release(answered=False)
    assert admission.rate() == pytest.approx(4 / 8.0)


def test_the_rate_forgets_answers_older_than_its_window(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 10, 0.1)
    run_one_by_one(admission, clock, 5, WINDOW_S / 5 + 0.1)
    assert admission.rate() == pytest.approx(5 / WINDOW_S)


def test_a_ticket_is_given_back_once(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    ticket = admission.admit(15)
    ticket.release(answered=True)
    ticket.release(answered=True)
    assert admission.outstanding == 0
    admission.admit(15)
    assert admission.outstanding == 1


# --- the decision -----------------------------------------------------------------------------


def test_runs_a_free_worker_starts_are_always_admitted(clock: FakeClock) -> None:
    admission = Admission(3, clock=clock)
    tickets = [admission.admit(0.001) for _ in range(3)]
    assert admission.outstanding == len(tickets) == 3


def test_without_a_rate_runs_are_taken_to_last_two_seconds(clock: FakeClock) -> None:
    admission = Admission(2, clock=clock)
    # Fast runs one at a time leave the rate unknown: a pool may have hidden their boots.
    run_one_by_one(admission, clock, 50, 0.1)
    # 0.8 * 15 s holds six waves of 2 s runs on two workers.
    for _ in range(12):
        admission.admit(15)
    before = refusals("overloaded")
    with pytest.raises(Overloaded) as refused:
        admission.admit(15)
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "1"}
    assert "busy" in refused.value.message and "retry in 1 s" in refused.value.message
    assert refusals("overloaded") == before + 1
    assert admission.outstanding == 12


def test_without_a_rate_a_long_recent_run_makes_the_waves_longer(clock: FakeClock) -> None:
    admission = Admission(2, clock=clock)
    run_one_by_one(admission, clock, 1, 6.0)
    # 0.8 * 15 s holds two waves of 6 s runs.
    for _ in range(4):
        admission.admit(15)
    with pytest.raises(Overloaded):
        admission.admit(15)


def test_a_live_run_lasts_what_its_client_wants_no_run_time(clock: FakeClock) -> None:
    admission = Admission(2, clock=clock)
    live = admission.admit(60, interactive=True)
    clock.advance(30)
    live.release(answered=True)
    for _ in range(12):  # still six waves of 2 s
        admission.admit(15)
    with pytest.raises(Overloaded):
        admission.admit(15)


def test_time_spent_queued_is_no_run_time(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    tickets = [admission.admit(60) for _ in range(3)]
    for ticket in tickets:  # 1 s each, answered after 1, 2 and 3 s
        clock.advance(1.0)
        ticket.release(answered=True)
    for _ in range(6):  # 0.8 * 15 s still holds six waves of 2 s
        admission.admit(15)
    with pytest.raises(Overloaded):
        admission.admit(15)


def test_admits_what_the_rate_answers_in_time_and_refuses_the_rest(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 4, 1.0)  # one run a second
    deadline_s = 10.0
    admitted = []
    with pytest.raises(Overloaded) as refused:
        while True:
            admitted.append(admission.admit(deadline_s))
    # The last one admitted is answered within the headroom: (n + 1) runs at 1 per second.
    assert len(admitted) == int(HEADROOM * deadline_s) == 8
    # The next would need 9 s, 1 s more than the headroom allows: the backlog must shed one.
    assert refused.value.headers["Retry-After"] == "1"
    assert "runs ahead" in refused.value.message


def test_retry_after_shrinks_as_the_backlog_drains(clock: FakeClock) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 20, 0.5)  # two runs a second
    tickets = [admission.admit(100) for _ in range(30)]
    assert admission.retry_after_s(5) == 12  # (30 + 1) / 2 - 0.8 * 5 = 11.5
    clock.advance(10)
    for ticket in tickets[:20]:
        ticket.release(answered=True)  # 20 more answers in 10 s: still two a second
    assert admission.retry_after_s(5) == 2  # (10 + 1) / 2 - 4 = 1.5


def test_the_waves_of_a_pool_count_in_the_estimate(clock: FakeClock) -> None:
    admission = Admission(4, clock=clock)
    tickets = [admission.admit(600) for _ in range(24)]
    for wave in range(5):
        clock.advance(1.0)
        for ticket in tickets[4 * wave : 4 * wave + 4]:
            ticket.release(answered=True)
    admission.admit(600)
    # Four a second in waves of four, five runs ahead: a sixth ends with the second wave.
    assert admission.answer_in_s() == pytest.approx(2.0)
