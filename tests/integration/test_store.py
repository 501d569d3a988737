"""submissions.store against real SQLite and real PostgreSQL: one contract, both databases."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from databases import store_url

from runakode.errors import ConfigError
from runakode.submissions.record import Judge0Status, SubmissionOutcome, SubmissionRequest
from runakode.submissions.schema import metadata
from runakode.submissions.store import Instance, SubmissionStore

REQUEST = SubmissionRequest(source_code=b"print(1)", language_id=71)
ACCEPTED = SubmissionOutcome(Judge0Status.ACCEPTED, stdout=b"1\n", time=0.012, memory=8000)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(url: str) -> AsyncIterator[SubmissionStore]:
    store = await SubmissionStore.open(url)
    yield store
    await store.close()


async def test_a_submission_round_trips_every_field(store: SubmissionStore) -> None:
    request = SubmissionRequest(
        source_code=b"\xff\x00 not utf-8",
        language_id=54,
        stdin="grüße\n".encode(),
        expected_output=b"",
        number_of_runs=3,
        cpu_time_limit=2.5,
        cpu_extra_time=0.5,
        wall_time_limit=5.0,
        memory_limit=64000,
        stack_limit=0,
        max_processes_and_or_threads=30,
        enable_per_process_and_thread_time_limit=True,
        enable_per_process_and_thread_memory_limit=True,
        max_file_size=2048,
        compiler_options="-O0 -Wall",
        command_line_arguments="a 'b c'",
        redirect_stderr_to_stdout=True,
        callback_url="http://127.0.0.1:9/x",
        additional_files=b"PK\x03\x04",
        enable_network=False,
    )
    [created] = await store.create([request], "req-1")
    read = await store.get(created.token)
    assert read is not None
    assert read.request == request
    assert (read.status, read.outcome, read.finished_at) == (Judge0Status.IN_QUEUE, None, None)
    assert read.created_at == pytest.approx(time.time(), abs=5)
    assert len(created.token) == 36


async def test_reads_lists_and_counts(store: SubmissionStore) -> None:
    first = await store.create([REQUEST], None)
    await asyncio.sleep(0.01)
    rest = await store.create([REQUEST, REQUEST], None)
    tokens = [s.token for s in first + rest]
    assert await store.count_waiting() == 3
    found = await store.get_many([tokens[2], "missing", tokens[0], tokens[0]])
    assert set(found) == {tokens[0], tokens[2]}
    page, total = await store.page(1, 2)
    assert total == 3
    # Newest first, as Judge0 lists them.
    assert first[0].token not in [s.token for s in page]
    page2, _ = await store.page(2, 2)
    assert [s.token for s in page2] == [first[0].token]
    assert await store.get("missing") is None


async def test_one_claim_wins_and_only_its_attempt_records(store: SubmissionStore) -> None:
    [created] = await store.create([REQUEST], None)
    claims = await asyncio.gather(
        *(store.claim(created.token, f"w{n}", 30, redelivered=False) for n in range(10))
    )
    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1
    [claim] = winners
    assert (claim.attempt, claim.submission.status) == (1, Judge0Status.PROCESSING)
    holder = f"w{claims.index(claim)}"
    # A redelivered job may be taken over; the first holder's late outcome is then refused.
    again = await store.claim(created.token, "other", 30, redelivered=True)
    assert again is not None and again.attempt == 2
    assert await store.finish(claim, holder, ACCEPTED) is None
    finished = await store.finish(again, "other", ACCEPTED)
    assert finished is not None and finished.status == Judge0Status.ACCEPTED
    assert finished.outcome == ACCEPTED
    assert finished.finished_at is not None
    # Ended: never claimed again, even when delivered once more.
    assert await store.claim(created.token, "third", 30, redelivered=True) is None
    assert await store.finish(again, "other", ACCEPTED) is None


async def test_an_expired_lease_may_be_taken_over(store: SubmissionStore) -> None:
    [created] = await store.create([REQUEST], None)
    assert await store.claim(created.token, "a", -1, redelivered=False) is not None
    taken = await store.claim(created.token, "b", 30, redelivered=False)
    assert taken is not None and taken.attempt == 2
    assert await store.claim(created.token, "c", 30, redelivered=False) is None


async def test_dispatch_bookkeeping(store: SubmissionStore) -> None:
    [created] = await store.create([REQUEST], None)
    [pending] = await store.pending(10)
    assert (pending.dispatched_at, pending.dispatched_by) == (None, None)
    await store.mark_dispatched([created.token], "me")
    [pending] = await store.pending(10)
    assert pending.dispatched_at is not None and pending.dispatched_by == "me"
    # Two sweepers that read the same row: only one takes it.
    assert await store.take_for_dispatch(pending, None)
    assert not await store.take_for_dispatch(pending, None)
    [taken] = await store.pending(10)
    assert taken.dispatched_by is None and taken.dispatched_at != pending.dispatched_at
    await store.mark_undispatched([created.token])
    [undispatched] = await store.pending(10)
    assert undispatched.dispatched_at is None


async def test_a_lost_processing_submission_goes_back_in_queue(store: SubmissionStore) -> None:
    [created] = await store.create([REQUEST], None)
    claim = await store.claim(created.token, "dead", 30, redelivered=False)
    assert claim is not None
    [pending] = await store.pending(10)
    assert (pending.status, pending.claimed_by) == (Judge0Status.PROCESSING, "dead")
    assert await store.take_for_dispatch(pending, None)
    read = await store.get(created.token)
    assert read is not None and read.status == Judge0Status.IN_QUEUE
    # The dead holder's outcome, arriving late, is not recorded.
    assert await store.finish(claim, "dead", ACCEPTED) is None


async def test_heartbeat_renews_only_what_the_instance_holds(store: SubmissionStore) -> None:
    held, dropped = await store.create([REQUEST, REQUEST], None)
    for submission in (held, dropped):
        assert await store.claim(submission.token, "me", 1, redelivered=False) is not None
    now = time.time()
    await store.heartbeat(Instance("me", "worker", 2, 1, now, now), [held.token], 600)
    await store.heartbeat(Instance("me", "worker", 2, 1, now, now + 1), [held.token], 600)
    leases = {p.token: p.lease_until for p in await store.pending(10)}
    assert leases[held.token] == pytest.approx(now + 601)
    assert leases[dropped.token] is not None and leases[dropped.token] < now + 5
    [instance] = await store.instances(now - 1)
    assert (instance.id, instance.slots, instance.in_flight) == ("me", 2, 1)
    await store.leave("me")
    assert await store.instances(0) == []


async def test_delete_and_purge_touch_only_ended_submissions(store: SubmissionStore) -> None:
    running, ended, old = await store.create([REQUEST, REQUEST, REQUEST], None)
    for submission in (ended, old):
        claim = await store.claim(submission.token, "w", 30, redelivered=False)
        assert claim is not None and await store.finish(claim, "w", ACCEPTED) is not None
    assert await store.delete_finished(running.token) is None
    deleted = await store.delete_finished(ended.token)
    assert deleted is not None and deleted.token == ended.token
    assert await store.get(ended.token) is None
    assert await store.purge_finished(time.time() - 3600) == 0
    assert await store.purge_finished(time.time() + 1) == 1
    assert await store.get(old.token) is None
    assert await store.get(running.token) is not None


async def test_statistics_queries(store: SubmissionStore) -> None:
    a, _ = await store.create([REQUEST, replace(REQUEST, language_id=54)], None)
    claim = await store.claim(a.token, "w", 30, redelivered=False)
    assert claim is not None and await store.finish(claim, "w", ACCEPTED)
    assert await store.counts_by("language_id") == {71: 1, 54: 1}
    assert await store.counts_by("status_id") == {1: 1, 3: 1}
    assert sum((await store.counts_by("day", since=time.time() - 86400)).values()) == 2
    size = await store.size_bytes()
    assert size is not None and size > 0


async def test_the_schema_matches_the_migrations_and_opening_again_is_harmless(url: str) -> None:
    stores = await asyncio.gather(*(SubmissionStore.open(url) for _ in range(3)))
    for store in stores:
        assert await store.health() is None
    engine = stores[0]._engine

    def differences(connection: sa.Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    for store in stores:
        await store.close()


async def test_an_unreachable_database_is_a_clear_start_up_error() -> None:
    with pytest.raises(ConfigError, match="store postgresql"):
        await SubmissionStore.open("postgresql://runakode:wrong@127.0.0.1:1/runakode")
    with pytest.raises(ConfigError, match=r"store\.url"):
        await SubmissionStore.open("mysql://x@y/z")
