"""brokers.memory.MemoryBroker: the in-process queue of the single-process mode, jobs and live
sessions."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import pytest

from runakode.brokers.memory import MemoryBroker
from runakode.errors import PoisonJob, QueueFull, ResultTimeout
from runakode.models import Job, JobResult, Status, SubmissionTicket
from runakode.sandboxes.base import ProgramInput, WriteStdin
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

MakeJob = Callable[..., Job]


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    broker = MemoryBroker(max_length=100)
    await broker.connect()
    await broker.serve_replies(lambda token: None)
    yield broker
    await broker.close()


class BlockingHandler:
    """Runs jobs until released, and remembers how many ran at the same time."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[Job] = []
        self.active = 0
        self.most_active = 0
        self._progress = asyncio.Event()

    async def __call__(self, job: Job) -> JobResult:
        self.started.append(job)
        self._progress.set()
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1
        return JobResult(
            stdout=job.source_code,
            stderr="",
            exit_code=0,
            timeout=False,
            exec_time_ms=1,
            status=Status.OK,
        )

    async def wait_started(self, count: int) -> None:
        async with asyncio.timeout(2):
            while len(self.started) < count:
                self._progress.clear()
                await self._progress.wait()


class JobsOnly:
    """JobHandlers that run synchronous jobs with `run` and take no submissions."""

    def __init__(self, run: Callable[[Job], Awaitable[JobResult]]) -> None:
        self.run_job = run

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        raise AssertionError("no submission was dispatched")


def jobs_only(run: Callable[[Job], Awaitable[JobResult]]) -> JobsOnly:
    return JobsOnly(run)


class Submissions:
    """JobHandlers that record the submissions they are handed."""

    def __init__(self) -> None:
        self.tickets: list[tuple[str, bool]] = []
        self.error: Exception | None = None

    async def run_job(self, job: Job) -> JobResult:
        raise AssertionError("no job was submitted")

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        self.tickets.append((ticket.token, redelivered))
        if self.error is not None:
            raise self.error


async def settle() -> None:
    """Give every ready task a few turns of the event loop."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_round_trip(broker: MemoryBroker, make_job: MakeJob) -> None:
    seen: list[Job] = []

    async def handler(job: Job) -> JobResult:
        seen.append(job)
        return JobResult(
            stdout=f"ran {job.id}",
            stderr="",
            exit_code=0,
            timeout=False,
            exec_time_ms=5,
            status=Status.OK,
        )

    await broker.consume(jobs_only(handler), concurrency=2)
    job = make_job("print(42)")
    result = await broker.submit(job, timeout_s=2)

    assert result.stdout == f"ran {job.id}"
    assert seen == [job]
    assert broker.health() is None


async def test_concurrency_is_bounded(broker: MemoryBroker, make_job: MakeJob) -> None:
    handler = BlockingHandler()
    await broker.consume(jobs_only(handler), concurrency=2)
    jobs = [make_job(f"job {index}") for index in range(5)]
    submits = [asyncio.create_task(broker.submit(job, timeout_s=5)) for job in jobs]

    await handler.wait_started(2)
    await settle()
    assert handler.active == 2
    assert len(handler.started) == 2

    handler.release.set()
    results = await asyncio.gather(*submits)
    assert [result.stdout for result in results] == [job.source_code for job in jobs]
    assert handler.most_active == 2


async def test_queue_full_fails_at_once(make_job: MakeJob) -> None:
    broker = MemoryBroker(max_length=1)
    waiting = asyncio.create_task(broker.submit(make_job(), timeout_s=5))
    await settle()
    try:
        async with asyncio.timeout(0.5):
            with pytest.raises(QueueFull):
                await broker.submit(make_job(), timeout_s=5)
    finally:
        waiting.cancel()


async def test_result_timeout_without_consumer(broker: MemoryBroker, make_job: MakeJob) -> None:
    with pytest.raises(ResultTimeout, match=r"within 0\.05 s"):
        await broker.submit(make_job(), timeout_s=0.05)


async def test_abandoned_job_is_skipped(broker: MemoryBroker, make_job: MakeJob) -> None:
    abandoned, fresh = make_job("abandoned"), make_job("fresh")
    with pytest.raises(ResultTimeout):
        await broker.submit(abandoned, timeout_s=0.01)

    handled: list[Job] = []

    async def handler(job: Job) -> JobResult:
        handled.append(job)
        return JobResult.internal_error("unused")

    await broker.consume(jobs_only(handler), concurrency=1)
    await broker.submit(fresh, timeout_s=2)
    assert handled == [fresh]


async def test_cancelled_submitter_job_is_skipped(broker: MemoryBroker, make_job: MakeJob) -> None:
    gone = asyncio.create_task(broker.submit(make_job("gone"), timeout_s=5))
    await settle()
    gone.cancel()
    await settle()

    handled: list[str] = []

    async def handler(job: Job) -> JobResult:
        handled.append(job.source_code)
        return JobResult.internal_error("unused")

    await broker.consume(jobs_only(handler), concurrency=1)
    await broker.submit(make_job("kept"), timeout_s=2)
    assert handled == ["kept"]


async def test_stop_consuming_lets_the_running_job_finish(
    broker: MemoryBroker, make_job: MakeJob
) -> None:
    handler = BlockingHandler()
    await broker.consume(jobs_only(handler), concurrency=2)
    running = asyncio.create_task(broker.submit(make_job("running"), timeout_s=5))
    await handler.wait_started(1)

    await broker.stop_consuming()
    with pytest.raises(ResultTimeout):
        await broker.submit(make_job("late"), timeout_s=0.05)
    assert [job.source_code for job in handler.started] == ["running"]

    handler.release.set()
    result = await asyncio.wait_for(running, 2)
    assert result.stdout == "running"


async def test_stop_consuming_twice_is_harmless(broker: MemoryBroker, make_job: MakeJob) -> None:
    handled: list[str] = []

    async def handler(job: Job) -> JobResult:
        handled.append(job.source_code)
        return JobResult.internal_error("unused")

    await broker.consume(jobs_only(handler), concurrency=1)
    await broker.submit(make_job("before"), timeout_s=2)

    await broker.stop_consuming()
    await broker.stop_consuming()  # nothing left to stop: returns, raises nothing
    # Still stopped: a job waits in the queue, untaken.
    with pytest.raises(ResultTimeout):
        await broker.submit(make_job("while stopped"), timeout_s=0.05)

    # And the broker can consume again (the abandoned job is skipped).
    await broker.consume(jobs_only(handler), concurrency=1)
    await broker.submit(make_job("after"), timeout_s=2)
    assert handled == ["before", "after"]


async def test_poison_job_gives_an_internal_error(broker: MemoryBroker, make_job: MakeJob) -> None:
    async def handler(job: Job) -> JobResult:
        raise PoisonJob("language 'cobol' is not served by this worker")

    await broker.consume(jobs_only(handler), concurrency=1)
    result = await broker.submit(make_job(), timeout_s=2)

    assert result.status == Status.INTERNAL_ERROR
    assert "cobol" in result.stderr


async def test_poison_job_frees_its_slot(broker: MemoryBroker, make_job: MakeJob) -> None:
    calls = 0

    async def handler(job: Job) -> JobResult:
        nonlocal calls
        calls += 1
        if job.source_code == "poison":
            raise PoisonJob("poison")
        return JobResult.internal_error("fine")

    await broker.consume(jobs_only(handler), concurrency=1)
    await broker.submit(make_job("poison"), timeout_s=2)
    result = await broker.submit(make_job("next"), timeout_s=2)
    assert result.stderr == "fine"
    assert calls == 2


async def test_dispatched_submissions_reach_the_worker_in_order() -> None:
    broker = MemoryBroker(max_length=10)
    finished: list[str] = []
    await broker.serve_replies(finished.append)
    handlers = Submissions()
    await broker.consume(handlers, concurrency=1)
    await broker.dispatch([SubmissionTicket(token="a"), SubmissionTicket(token="b")], notify=False)
    await broker.dispatch([SubmissionTicket(token="c")], notify=True)
    await settle()
    # Never delivered twice in one process; only the one asked for is announced when done.
    assert handlers.tickets == [("a", False), ("b", False), ("c", False)]
    assert finished == ["c"]
    await broker.close()


async def test_a_failing_submission_is_announced_and_frees_its_slot() -> None:
    broker = MemoryBroker(max_length=10)
    finished: list[str] = []
    await broker.serve_replies(finished.append)
    handlers = Submissions()
    handlers.error = RuntimeError("store down")
    await broker.consume(handlers, concurrency=1)
    await broker.dispatch([SubmissionTicket(token="a"), SubmissionTicket(token="b")], notify=True)
    await settle()
    assert [token for token, _ in handlers.tickets] == ["a", "b"]
    assert finished == ["a", "b"]
    await broker.close()


async def test_dispatch_to_a_full_queue_fails_at_once() -> None:
    broker = MemoryBroker(max_length=1)
    await broker.dispatch([SubmissionTicket(token="a")], notify=False)
    with pytest.raises(QueueFull):
        await broker.dispatch([SubmissionTicket(token="b")], notify=False)
    assert broker.durable is False


# --- live sessions -----------------------------------------------------------------------------


class EchoHandlers:
    """run_session echoes what the program gets as stdin, until stdin closes."""

    def __init__(self) -> None:
        self.closed_runs = 0
        self.received: list[object] = []

    async def run_job(self, job: Job) -> JobResult:
        raise AssertionError("not a batch test")

    async def run_submission(self, ticket: SubmissionTicket, *, redelivered: bool) -> None:
        raise AssertionError("not a submission test")

    async def run_session(
        self, job: Job, controls: ProgramInput
    ) -> AsyncGenerator[SessionEvent, None]:
        try:
            yield SessionStarted(language=job.language)
            while True:
                control = await controls.get()
                self.received.append(control)
                if not isinstance(control, WriteStdin):
                    break
                text = control.data.decode()
                yield OutputChunk(stage=Stage.RUN, stream=StreamName.STDOUT, data=text)
            yield SessionFinished(result=JobResult.internal_error("done"))
        finally:
            self.closed_runs += 1


async def test_memory_session_round_trip(broker: MemoryBroker, make_job: MakeJob) -> None:
    handlers = EchoHandlers()
    await broker.consume(handlers, concurrency=2)
    session = await broker.open_session(make_job(), start_timeout_s=5)
    events = session.events()
    assert isinstance(await anext(events), SessionStarted)
    await session.send(WireStdin(data="hi"))
    chunk = await anext(events)
    assert isinstance(chunk, OutputChunk) and chunk.data == "hi"
    await session.send(CloseStdin())
    assert isinstance(await anext(events), SessionFinished)
    await session.close()
    assert handlers.closed_runs == 1


async def test_closing_a_session_cancels_its_run(broker: MemoryBroker, make_job: MakeJob) -> None:
    handlers = EchoHandlers()
    await broker.consume(handlers, concurrency=1)
    session = await broker.open_session(make_job(), start_timeout_s=5)
    assert isinstance(await anext(session.events()), SessionStarted)
    await session.close()
    for _ in range(100):
        if handlers.closed_runs:
            break
        await asyncio.sleep(0.01)
    assert handlers.closed_runs == 1
    # Its slot is free again: the next session starts.
    second = await broker.open_session(make_job(), start_timeout_s=5)
    assert isinstance(await anext(second.events()), SessionStarted)
    await second.close()


async def test_a_session_nobody_takes_times_out(broker: MemoryBroker, make_job: MakeJob) -> None:
    session = await broker.open_session(make_job(), start_timeout_s=0.05)
    with pytest.raises(ResultTimeout):
        await anext(session.events())
    await session.close()


async def test_sessions_count_against_the_queue(make_job: MakeJob) -> None:
    broker = MemoryBroker(max_length=2)
    await broker.open_session(make_job(), 1)
    await broker.open_session(make_job(), 1)
    with pytest.raises(QueueFull):
        await broker.open_session(make_job(), 1)
    await broker.close()


async def test_a_run_cut_short_by_the_service_tells_its_client_at_once(
    broker: MemoryBroker, make_job: MakeJob
) -> None:
    handlers = EchoHandlers()
    await broker.consume(handlers, concurrency=1)
    session = await broker.open_session(make_job(), start_timeout_s=5)
    events = session.events()
    assert isinstance(await anext(events), SessionStarted)
    # As Worker.stop does past its grace period: the run's own task is cancelled.
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__ == "_pump_session":  # type: ignore[union-attr]
            task.cancel()
    finished = await asyncio.wait_for(anext(events), 2)
    assert isinstance(finished, SessionFinished)
    assert "stopped mid-run" in finished.result.stderr
    await session.close()
