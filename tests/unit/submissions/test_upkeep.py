"""submissions.upkeep and dispatch: nothing stays In Queue or Processing forever (SQLite)."""

import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from runakode.errors import BrokerUnavailable
from runakode.models import SubmissionTicket
from runakode.sandboxes.ownership import owner_id
from runakode.submissions.dispatch import Dispatcher
from runakode.submissions.record import Judge0Status, SubmissionOutcome, SubmissionRequest
from runakode.submissions.store import SubmissionStore
from runakode.submissions.upkeep import (
    DISPATCH_GRACE_S,
    INSTANCE_TIMEOUT_S,
    REDISPATCH_AFTER_S,
    Identity,
    Upkeep,
)

REQUEST = SubmissionRequest(source_code=b"print(1)", language_id=71)
ME = owner_id()
# This host, a process that cannot exist: known dead at once.
DEAD = f"{socket.gethostname()}/4194305/1"
ELSEWHERE = "another-host/42/1"


class FakeBroker:
    def __init__(self, *, durable: bool) -> None:
        self.durable = durable
        self.dispatched: list[str] = []
        self.refuse = False

    async def dispatch(self, tickets: Sequence[SubmissionTicket], *, notify: bool) -> None:
        if self.refuse:
            raise BrokerUnavailable("down")
        self.dispatched += [ticket.token for ticket in tickets]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SubmissionStore]:
    store = await SubmissionStore.open(f"sqlite:///{tmp_path}/store.db")
    yield store
    await store.close()


def upkeep(
    store: SubmissionStore,
    broker: FakeBroker,
    *,
    later_s: float = 0.0,
    holding: frozenset[str] = frozenset(),
) -> Upkeep:
    return Upkeep(
        store,
        Dispatcher(broker, store, ME),  # type: ignore[arg-type]
        Identity(ME, "combined", 2, time.time()),
        retention_s=3600,
        in_flight=lambda: len(holding),
        holding=lambda: set(holding),
        clock=lambda: time.time() + later_s,
    )


async def test_a_new_submission_is_dispatched_and_held_by_this_process(
    store: SubmissionStore,
) -> None:
    broker = FakeBroker(durable=False)
    [created] = await store.create([REQUEST], None)
    assert await Dispatcher(broker, store, ME).dispatch_new(  # type: ignore[arg-type]
        [created], notify=False, request_id=None
    )
    [pending] = await store.pending(10)
    assert (pending.dispatched_by, broker.dispatched) == (ME, [created.token])
    # Held in a live process's memory: nobody else queues it.
    assert await upkeep(store, broker).sweep() == 0


async def test_an_undispatched_submission_waits_out_the_grace_then_is_queued(
    store: SubmissionStore,
) -> None:
    broker = FakeBroker(durable=True)
    [created] = await store.create([REQUEST], None)
    assert await upkeep(store, broker).sweep() == 0
    assert await upkeep(store, broker, later_s=DISPATCH_GRACE_S + 1).sweep() == 1
    assert broker.dispatched == [created.token]
    [pending] = await store.pending(10)
    # The broker holds it now (RabbitMQ): no process is its holder.
    assert pending.dispatched_at is not None and pending.dispatched_by is None


async def test_what_a_dead_process_held_in_memory_is_queued_again_at_once(
    store: SubmissionStore,
) -> None:
    broker = FakeBroker(durable=False)
    queued, running = await store.create([REQUEST, REQUEST], None)
    await store.mark_dispatched([queued.token, running.token], DEAD)
    assert await store.claim(running.token, DEAD, 30, redelivered=False) is not None
    assert await upkeep(store, broker).sweep() == 2
    assert sorted(broker.dispatched) == sorted([queued.token, running.token])
    for pending in await store.pending(10):
        assert (pending.status, pending.dispatched_by) == (Judge0Status.IN_QUEUE, ME)


async def test_another_hosts_instance_counts_as_alive_until_its_heartbeat_ages(
    store: SubmissionStore,
) -> None:
    broker = FakeBroker(durable=False)
    [created] = await store.create([REQUEST], None)
    await store.mark_dispatched([created.token], ELSEWHERE)
    other = Upkeep(
        store,
        Dispatcher(broker, store, ELSEWHERE),  # type: ignore[arg-type]
        Identity(ELSEWHERE, "combined", 2, time.time()),
        retention_s=3600,
        in_flight=lambda: 0,
        holding=set,
    )
    await other.heartbeat()
    assert await upkeep(store, broker).sweep() == 0
    assert await upkeep(store, broker, later_s=INSTANCE_TIMEOUT_S + 1).sweep() == 1


async def test_an_expired_lease_is_queued_again_and_a_renewed_one_is_not(
    store: SubmissionStore,
) -> None:
    broker = FakeBroker(durable=True)
    held, lost = await store.create([REQUEST, REQUEST], None)
    for submission in (held, lost):
        assert await store.claim(submission.token, ME, 30, redelivered=False) is not None
    # This process holds `held` (its lease is renewed by each heartbeat); `lost` it dropped.
    keeper = upkeep(store, broker, later_s=60, holding=frozenset({held.token}))
    await keeper.heartbeat()
    assert await keeper.sweep() == 1
    assert broker.dispatched == [lost.token]


async def test_a_submission_in_the_broker_for_too_long_is_dispatched_again(
    store: SubmissionStore,
) -> None:
    broker = FakeBroker(durable=True)
    [created] = await store.create([REQUEST], None)
    await store.mark_dispatched([created.token], None)
    assert await upkeep(store, broker, later_s=60).sweep() == 0
    assert await upkeep(store, broker, later_s=REDISPATCH_AFTER_S + 1).sweep() == 1


async def test_two_sweepers_queue_a_lost_submission_once(store: SubmissionStore) -> None:
    broker = FakeBroker(durable=True)
    [created] = await store.create([REQUEST], None)
    first, second = (upkeep(store, broker, later_s=DISPATCH_GRACE_S + 1) for _ in range(2))
    assert await first.sweep() + await second.sweep() == 1
    assert broker.dispatched == [created.token]


async def test_a_refused_dispatch_is_tried_again_later(store: SubmissionStore) -> None:
    broker = FakeBroker(durable=True)
    [created] = await store.create([REQUEST], None)
    broker.refuse = True
    assert not await Dispatcher(broker, store, ME).dispatch_new(  # type: ignore[arg-type]
        [created], notify=False, request_id=None
    )
    assert await upkeep(store, broker, later_s=DISPATCH_GRACE_S + 1).sweep() == 0
    [pending] = await store.pending(10)
    assert pending.dispatched_at is None
    broker.refuse = False
    assert await upkeep(store, broker, later_s=DISPATCH_GRACE_S + 1).sweep() == 1


async def test_finished_submissions_are_deleted_after_the_retention(store: SubmissionStore) -> None:
    broker = FakeBroker(durable=True)
    old, running = await store.create([REQUEST, REQUEST], None)
    claim = await store.claim(old.token, ME, 30, redelivered=False)
    assert claim is not None
    assert await store.finish(claim, ME, SubmissionOutcome(Judge0Status.ACCEPTED))
    await upkeep(store, broker).purge()
    assert await store.get(old.token) is not None
    await upkeep(store, broker, later_s=3601).purge()
    assert await store.get(old.token) is None
    assert await store.get(running.token) is not None


def replace_with_a_directory(path: Path) -> None:
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    path.mkdir()


async def test_a_store_that_fails_is_reported_as_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    broken = await SubmissionStore.open(f"sqlite:///{path}")
    keeper = upkeep(broken, FakeBroker(durable=True))
    await keeper.tick()
    assert keeper.problem is None
    # The database file is replaced by a directory: every statement fails.
    await broken.close()
    replace_with_a_directory(path)
    await keeper.tick()
    assert keeper.problem is not None and keeper.problem.startswith("store unavailable")
    await broken.close()
