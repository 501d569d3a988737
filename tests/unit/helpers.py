"""What tests in several folders share besides fixtures (conftest.py) and stand-ins (fakes.py)."""

from prometheus_client import REGISTRY

from runakode.admission import Admission
from unit.fakes import FakeClock


def refusals(reason: str) -> float:
    """How many runs admission has refused for `reason` so far (a process-wide counter)."""
    return REGISTRY.get_sample_value("runakode_admission_refusals_total", {"reason": reason}) or 0


def run_one_by_one(admission: Admission, clock: FakeClock, count: int, each_s: float) -> None:
    """`count` runs of `each_s` seconds, one after the other, each answered."""
    for _ in range(count):
        ticket = admission.admit(60)
        clock.advance(each_s)
        ticket.release(answered=True)
