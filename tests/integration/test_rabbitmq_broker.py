import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
from harness import QUEUE_PREFIX, RABBITMQ_URL, dead_letters, delete_queues

from runakode.brokers.rabbitmq import RabbitMQBroker
from runakode.errors import QueueFull, ResultTimeout
from runakode.models import Job, JobResult, Status, SubmissionTicket
from runakode.sandboxes.base import ProgramInput
from runakode.sandboxes.base import WriteStdin as ProgramWriteStdin
from runakode.streaming import (
    CloseStdin,
    OutputChunk,
    SessionEvent,
    SessionFinished,
    SessionStarted,
    Stage,
    StreamName,
)
from runakode.streaming import WriteStdin as WireStdin


def echo_result(job: Job) -> JobResult:
    return JobResult(
        stdout=job.source_code[::-1],
        stderr="",
        exit_code=0,
        timeout=False,
        exec_time_ms=1,
        status=Status.OK,
    )


async def echo(job: Job) -> JobResult:
    return echo_result(job)


class Handlers:
    """JobHandlers for these tests: synchronous jobs go to `run`, submissions are recorded."""

    def __init__(self, run: Callable[[Job], Awaitable[JobResult]] = echo) -> None:
        self.run = run
        self.tickets: list[tuple[str, bool]] = []
        self.hold: asyncio.Event | None = None

    async def run_job(self, job: Job) -> JobResult:
        return await self.run(job)

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        self.tickets.append((ticket.token, redelivered))
        if self.hold is not None:
            await self.hold.wait()


# Tokens the API side heard were finished (SubmissionFinished notes on its reply queue).
finished: list[str] = []


def new_job(code: str = "print(1)") -> Job:
    return Job(id=uuid.uuid4().hex, language="python", source_code=code)


@pytest.fixture
async def queue_name() -> AsyncIterator[str]:
    name = f"{QUEUE_PREFIX}broker_{uuid.uuid4().hex[:8]}"
    yield name
    # The broker's queues: jobs, set-aside jobs, and the workers' language versions.
    await delete_queues([name, f"{name}.dead", f"{name}.languages"])


async def connected(queue: str, *, api: bool, max_length: int = 100) -> RabbitMQBroker:
    broker = RabbitMQBroker(RABBITMQ_URL, queue, max_length)
    await broker.connect()
    assert broker.health() is None
    if api:
        await broker.serve_replies(finished.append)
    return broker


async def publish_raw(queue: str, body: bytes, reply_to: str | None) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        message = aio_pika.Message(body=body, reply_to=reply_to, correlation_id=uuid.uuid4().hex)
        await channel.default_exchange.publish(message, routing_key=queue)


async def test_round_trip_between_two_connections(queue_name: str) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    await worker.consume(Handlers(echo), concurrency=2)
    try:
        results = await asyncio.gather(*(api.submit(new_job(f"job {n}"), 10) for n in range(8)))
        assert [r.stdout for r in results] == [f"job {n}"[::-1] for n in range(8)]
    finally:
        await worker.close()
        await api.close()


async def test_prefetch_bounds_jobs_in_flight(queue_name: str) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    running = 0
    most = 0
    release = asyncio.Event()

    async def slow(job: Job) -> JobResult:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        return echo_result(job)

    await worker.consume(Handlers(slow), concurrency=2)
    try:
        submits = [asyncio.create_task(api.submit(new_job(), 20)) for _ in range(5)]
        await asyncio.sleep(1.5)
        assert most == 2
        release.set()
        assert len(await asyncio.gather(*submits)) == 5
    finally:
        await worker.close()
        await api.close()


async def test_full_queue_is_refused_at_once(queue_name: str) -> None:
    api = await connected(queue_name, api=True, max_length=2)
    try:
        outcomes = await asyncio.gather(
            *(api.submit(new_job(), 3) for _ in range(4)), return_exceptions=True
        )
        assert sum(isinstance(o, QueueFull) for o in outcomes) == 2
        assert sum(isinstance(o, ResultTimeout) for o in outcomes) == 2
    finally:
        await api.close()


async def test_poison_messages_are_set_aside_and_the_worker_keeps_serving(queue_name: str) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    await worker.consume(Handlers(echo), concurrency=2)
    try:
        await publish_raw(queue_name, b"not json", reply_to="anywhere")
        await publish_raw(queue_name, b'{"id": "x"}', reply_to="anywhere")
        await publish_raw(queue_name, new_job().model_dump_json().encode(), reply_to=None)
        # A job that ran but whose asker is gone is not poison: it is taken, its result dropped.
        no_such_queue = f"missing-{uuid.uuid4().hex}"
        undeliverable = new_job("nobody waits")
        await publish_raw(queue_name, undeliverable.model_dump_json().encode(), no_such_queue)
        bodies = await dead_letters(queue_name, expected=3)
        assert len(bodies) == 3
        assert b"not json" in bodies
        result = await api.submit(new_job("still serving"), 10)
        assert result.stdout == "still serving"[::-1]
        assert undeliverable.id.encode() not in b"".join(bodies)
        assert await dead_letters(queue_name, expected=1, timeout_s=0.5) == []
    finally:
        await worker.close()
        await api.close()


def reply_queues() -> set[str]:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True, check=True
    ).stdout
    return {line.strip() for line in out.splitlines() if line.startswith("runakode.replies.")}


async def test_one_reply_queue_per_api_process(queue_name: str) -> None:
    baseline = reply_queues()
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    await worker.consume(Handlers(echo), concurrency=2)
    try:
        await asyncio.gather(*(api.submit(new_job(), 10) for _ in range(10)))
        ours = reply_queues() - baseline
        assert len(ours) == 1
    finally:
        await worker.close()
        await api.close()
    assert not ours & reply_queues()


async def eventually(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_submission_tickets_reach_a_worker_and_the_waiter_hears_of_the_end(
    queue_name: str,
) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    handlers = Handlers()
    await worker.consume(handlers, concurrency=2)
    try:
        quiet, waited = uuid.uuid4().hex, uuid.uuid4().hex
        await api.dispatch([SubmissionTicket(token=quiet)], notify=False)
        await api.dispatch([SubmissionTicket(token=waited)], notify=True)
        await eventually(lambda: waited in finished)
        await eventually(lambda: len(handlers.tickets) == 2)
        assert sorted(handlers.tickets) == sorted([(quiet, False), (waited, False)])
        await asyncio.sleep(0.3)
        # Only the one a request waits for is announced.
        assert quiet not in finished
        assert api.durable is True
    finally:
        await worker.close()
        await api.close()


async def test_a_ticket_held_by_a_lost_worker_is_delivered_again_marked_so(
    queue_name: str,
) -> None:
    api = await connected(queue_name, api=True)
    lost = await connected(queue_name, api=False)
    lost_handlers = Handlers()
    lost_handlers.hold = asyncio.Event()
    await lost.consume(lost_handlers, concurrency=1)
    token = uuid.uuid4().hex
    try:
        await api.dispatch([SubmissionTicket(token=token)], notify=False)
        await eventually(lambda: lost_handlers.tickets == [(token, False)])
        # Its connection goes away mid-job, unacknowledged (as when its process is killed).
        await lost.close()
        survivor = await connected(queue_name, api=False)
        handlers = Handlers()
        await survivor.consume(handlers, concurrency=1)
        await eventually(lambda: handlers.tickets == [(token, True)])
        await survivor.close()
    finally:
        lost_handlers.hold.set()
        await api.close()


# --- live sessions over RabbitMQ -------------------------------------------------------------


class SessionHandlers(Handlers):
    """run_session: started, then each stdin line echoed, until stdin closes or it is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: list[str] = []

    async def run_session(
        self, job: Job, controls: ProgramInput
    ) -> AsyncGenerator[SessionEvent, None]:
        try:
            yield SessionStarted(language=job.language)
            while isinstance(control := await controls.get(), ProgramWriteStdin):
                text = control.data.decode()
                yield OutputChunk(stage=Stage.RUN, stream=StreamName.STDOUT, data=text)
            yield SessionFinished(result=echo_result(job))
        finally:
            self.ended.append(job.id)


async def test_a_session_streams_both_ways_across_processes(queue_name: str) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    handlers = SessionHandlers()
    await worker.consume(handlers, concurrency=2)
    try:
        job = new_job()
        session = await api.open_session(job, 10)
        # Sent before any worker took it: held until the worker names its control queue.
        await session.send(WireStdin(data="early"))
        events = session.events()
        assert isinstance(await anext(events), SessionStarted)
        first = await anext(events)
        assert isinstance(first, OutputChunk) and first.data == "early"
        await session.send(WireStdin(data="later"))
        second = await anext(events)
        assert isinstance(second, OutputChunk) and second.data == "later"
        await session.send(CloseStdin())
        assert isinstance(await anext(events), SessionFinished)
        await session.close()
        # The worker's generator ends after its last event is published: maybe after it arrives.
        await eventually(lambda: handlers.ended == [job.id])
    finally:
        await worker.close()
        await api.close()


async def test_a_session_closed_before_a_worker_took_it_is_cancelled_there(
    queue_name: str,
) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    handlers = SessionHandlers()
    try:
        job = new_job()
        session = await api.open_session(job, 10)
        await session.close()
        await worker.consume(handlers, concurrency=2)
        # The worker announces itself to nobody; the API answers with a cancellation.
        await eventually(lambda: handlers.ended == [job.id])
    finally:
        await worker.close()
        await api.close()


async def test_a_session_whose_api_is_gone_ends_on_the_worker(queue_name: str) -> None:
    api = await connected(queue_name, api=True)
    worker = await connected(queue_name, api=False)
    handlers = SessionHandlers()
    await worker.consume(handlers, concurrency=2)
    try:
        job = new_job()
        session = await api.open_session(job, 10)
        await session.send(WireStdin(data="one"))
        events = session.events()
        assert isinstance(await anext(events), SessionStarted)
        await api.close()  # its reply queue goes with its connection
        # The worker's next event finds no reply queue and ends the run.
        await eventually(lambda: handlers.ended == [job.id])
    finally:
        await worker.close()
