"""Admission: refuse at once the run that could not be answered within its deadline.

An API process counts the runs it has accepted and not yet seen end (its backlog: queued and
running), and measures how fast they end while they keep every worker busy. A new run whose
answer, at that rate, would come after its deadline is refused now, with the time the backlog
needs to shrink enough, instead of waiting the whole deadline for a 504. Each process knows
only its own runs: all of them in the single process, this API's share in split mode.
"""

import math
import time
from collections import deque
from collections.abc import Callable

from runakode import metrics
from runakode.errors import Overloaded

# The rate is measured over this much recent saturated time (every worker busy). Other time
# does not age it: a quiet service still knows how fast its workers answered when last full.
WINDOW_S = 20.0
# Answers the window must hold, per worker, before its rate is trusted: the first runs of a
# busy spell finish early (they had started before it, or took a sandbox booted ahead).
MIN_ANSWERS_PER_WORKER = 4
# Admission aims at answering within this share of a deadline: job times vary, and a burst
# brings load of its own.
HEADROOM = 0.8
# Until the rate is known, a run is taken to last this long, or as long as the longest of the
# recent runs that found a worker free (their time is the run's own, boot included).
ASSUMED_RUN_S = 2.0
RECENT_RUNS = 16
# With no trusted rate, a refused client is asked to come back this soon.
UNTIMED_RETRY_AFTER_S = 1


class Admission:
    """Runs go to `capacity` workers (maxWorkers) in waves: a run waits for the waves of the
    runs ahead of it, then takes its own. While fewer runs than workers are outstanding, a run
    is admitted at once (a worker is free). Beyond that, it is admitted when its wave ends,
    at the measured rate, within HEADROOM of its deadline.

    The rate counts only time when every worker was busy: what the workers do flat out,
    sandboxes booted on demand included. Light traffic says nothing of that (a pool of
    sandboxes booted ahead hides the boot), so until enough busy time was seen, runs are taken
    to last ASSUMED_RUN_S, or longer when recent runs did: only the waves that fit the deadline
    then are admitted."""

    def __init__(
        self,
        capacity: int,
        *,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.outstanding = 0
        self._window_s = window_s
        self._clock = clock
        self._min_answers = MIN_ANSWERS_PER_WORKER * capacity
        self._saturated_s = 0.0
        self._saturated_since: float | None = None
        # The saturated clock's reading at each recent answer given while saturated.
        self._answers: deque[float] = deque()
        self._run_times: deque[float] = deque(maxlen=RECENT_RUNS)

    def rate(self) -> float | None:
        """Runs answered per second of saturated time over the last window; None until the
        window holds enough answers to tell."""
        now_s = self._saturated_now()
        while self._answers and self._answers[0] <= now_s - self._window_s:
            self._answers.popleft()
        span_s = min(self._window_s, now_s)
        if len(self._answers) < self._min_answers or span_s <= 0:
            return None
        return len(self._answers) / span_s

    def answer_in_s(self) -> float | None:
        """When a run accepted now would be answered at the latest; None without a rate."""
        rate = self.rate()
        if rate is None:
            return None
        waves = self.outstanding // self.capacity + 1
        return waves * self.capacity / rate

    def retry_after_s(self, deadline_s: float) -> int:
        """Whole seconds until the backlog has shrunk enough to admit a run (at least 1)."""
        answer_in_s = self.answer_in_s()
        if answer_in_s is None:
            return UNTIMED_RETRY_AFTER_S
        return max(1, math.ceil(answer_in_s - HEADROOM * deadline_s))

    def admit(self, deadline_s: float, *, interactive: bool = False) -> "Ticket":
        """A place in the backlog for a run that must be answered within deadline_s, or
        Overloaded (503 with Retry-After). An interactive run lasts as long as its client
        wants: its length says nothing of the runs'."""
        if self.outstanding >= self.capacity and not self._fits(deadline_s):
            metrics.REFUSED.labels("overloaded").inc()
            raise Overloaded(self._refusal(deadline_s), self.retry_after_s(deadline_s))
        timed = not interactive and self.outstanding < self.capacity
        ticket = Ticket(self, self._clock(), timed=timed)
        self._set_outstanding(self.outstanding + 1)
        return ticket

    def _fits(self, deadline_s: float) -> bool:
        answer_in_s = self.answer_in_s()
        if answer_in_s is not None:
            return answer_in_s <= HEADROOM * deadline_s
        run_s = max([ASSUMED_RUN_S, *self._run_times])
        waves = max(1, math.floor(HEADROOM * deadline_s / run_s))
        return self.outstanding < waves * self.capacity

    def _release(self, ticket: "Ticket", *, answered: bool) -> None:
        if answered and self.outstanding >= self.capacity:
            self._answers.append(self._saturated_now())
        if answered and ticket.timed:
            self._run_times.append(self._clock() - ticket.admitted_at)
        self._set_outstanding(self.outstanding - 1)

    def _set_outstanding(self, count: int) -> None:
        saturated = count >= self.capacity
        if saturated and self._saturated_since is None:
            self._saturated_since = self._clock()
        elif not saturated and self._saturated_since is not None:
            self._saturated_s = self._saturated_now()
            self._saturated_since = None
        self.outstanding = count

    def _saturated_now(self) -> float:
        if self._saturated_since is None:
            return self._saturated_s
        return self._saturated_s + self._clock() - self._saturated_since

    def _refusal(self, deadline_s: float) -> str:
        retry_s = self.retry_after_s(deadline_s)
        answer_in_s = self.answer_in_s()
        if answer_in_s is None:
            return (
                f"the service is busy: {self.outstanding} runs are ahead, as many as it takes "
                f"before it has measured its pace; retry in {retry_s} s"
            )
        return (
            f"the service is overloaded: the {self.outstanding} runs ahead need about "
            f"{answer_in_s:.0f} s, more than this request's {deadline_s:g} s allow; "
            f"retry in {retry_s} s"
        )


class Ticket:
    """A run's place in the backlog, given back once: answered (it ended on a worker, which is
    free again) or not (refused by the broker, timed out, abandoned in the queue)."""

    def __init__(self, admission: Admission, admitted_at: float, *, timed: bool) -> None:
        self._admission = admission
        self.admitted_at = admitted_at
        # Its time to the answer is a run's own: a worker was free, and no client paced it.
        self.timed = timed
        self._released = False

    def release(self, *, answered: bool) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self, answered=answered)
