"""Live sessions without Docker: the in-process broker, the API's end of a session, the
worker's translation of sandbox events, and the native WebSocket route."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from runakode.api.live import live_routes
from runakode.api.native import no_versions
from runakode.brokers import sessions as session_module
from runakode.brokers.memory import MemoryBroker
from runakode.brokers.sessions import QueuedSession
from runakode.config import Settings
from runakode.errors import QueueFull, ResultTimeout, SandboxError
from runakode.models import Job, JobResult, Status, SubmissionTicket
from runakode.sandboxes.base import (
    PhaseResult,
    ProgramInput,
    SandboxResult,
    WriteStdin,
)
from runakode.streaming import (
    CloseStdin,
    KeepAlive,
    OutputChunk,
    SendSignal,
    SessionControl,
    SessionEvent,
    SessionFinished,
    SessionStarted,
    Stage,
    StageEnded,
    StreamName,
)
from runakode.streaming import WriteStdin as WireStdin
from runakode.worker import Worker
from unit.fakes import FakeSandbox, ok_sandbox_result

MakeJob = Callable[..., Job]


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


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    broker = MemoryBroker(max_length=2)
    yield broker
    await broker.close()


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


async def test_sessions_count_against_the_queue(broker: MemoryBroker, make_job: MakeJob) -> None:
    await broker.open_session(make_job(), 1)
    await broker.open_session(make_job(), 1)
    with pytest.raises(QueueFull):
        await broker.open_session(make_job(), 1)


async def test_a_silent_worker_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "LIVENESS_TIMEOUT_S", 0.05)

    async def nothing(control: SessionControl) -> None:
        return None

    async def cancel() -> None:
        return None

    session = QueuedSession(5, nothing, cancel)
    session.deliver(SessionStarted(language="python"))
    events = session.events()
    assert isinstance(await anext(events), SessionStarted)
    with pytest.raises(ResultTimeout, match="went silent"):
        await anext(events)


async def test_a_client_that_reads_nothing_ends_its_flooding_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "SESSION_EVENTS_BUFFER", 4)
    cancelled = []

    async def nothing(control: SessionControl) -> None:
        return None

    async def cancel() -> None:
        cancelled.append(True)

    session = QueuedSession(5, nothing, cancel)
    for _ in range(10):
        session.deliver(OutputChunk(stage=Stage.RUN, stream=StreamName.STDOUT, data="x"))
    events = [event async for event in session.events()]
    assert len(events) == 1 and isinstance(events[0], SessionFinished)
    assert "fast enough" in events[0].result.stderr
    await session.close()
    assert cancelled == []  # finished already: nothing left to cancel


# --- the worker: sandbox events as session events -----------------------------------------


async def test_worker_streams_decoded_text_and_stage_ends(
    make_settings: Callable[..., Settings], make_job: MakeJob
) -> None:
    snowman = "☃".encode()
    run = PhaseResult(stdout=b"a" + snowman, stderr=b"", exit_code=0, signal=None, wall_time_ms=5)
    sandbox = SplitOutputSandbox(SandboxResult(Status.OK, None, run), cut=2)
    worker = Worker(make_settings(), MemoryBroker(1), sandbox)
    controls: ProgramInput = asyncio.Queue()
    events = [e async for e in worker.run_session(make_job(), controls)]
    assert isinstance(events[0], SessionStarted) and events[0].language == "python"
    texts = [e.data for e in events if isinstance(e, OutputChunk)]
    # The snowman was split between two chunks and still arrives whole.
    assert "".join(texts) == "a☃" and all("\ufffd" not in t for t in texts)
    (ended,) = [e for e in events if isinstance(e, StageEnded)]
    assert (ended.stage, ended.status, ended.exit_code) == (Stage.RUN, Status.OK, 0)
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.result.stdout == ""
    assert sandbox.controls is controls


async def test_worker_session_for_a_language_it_does_not_serve(
    make_settings: Callable[..., Settings], make_job: MakeJob
) -> None:
    worker = Worker(make_settings(), MemoryBroker(1), FakeSandbox(ok_sandbox_result()))
    events = [e async for e in worker.run_session(make_job(language="fsharp"), asyncio.Queue())]
    assert len(events) == 1 and isinstance(events[0], SessionFinished)
    assert events[0].result.status == Status.INTERNAL_ERROR


class SplitOutputSandbox(FakeSandbox):
    """Sends the run's stdout in two chunks cut at `cut` bytes."""

    def __init__(self, result: SandboxResult, cut: int) -> None:
        super().__init__(result)
        self.cut = cut

    async def stream(self, job: Any, controls: Any = None) -> AsyncGenerator[Any, None]:
        from runakode.sandboxes.base import Output, Phase, Stream

        async for event in super().stream(job, controls):
            if isinstance(event, Output):
                yield Output(Phase.RUN, Stream.STDOUT, event.data[: self.cut])
                yield Output(Phase.RUN, Stream.STDOUT, event.data[self.cut :])
            else:
                yield event


# --- the native WebSocket route ------------------------------------------------------------


class ScriptedSession:
    def __init__(self, events: list[SessionEvent], hold: bool = False) -> None:
        self._events = events
        self.hold = hold
        self.sent: list[SessionControl] = []
        self.closed = asyncio.Event()

    async def events(self) -> AsyncIterator[SessionEvent]:
        for event in self._events:
            yield event
        if self.hold:
            await self.closed.wait()

    async def send(self, control: SessionControl) -> None:
        self.sent.append(control)

    async def close(self) -> None:
        self.closed.set()


def app_with(settings: Settings, session: ScriptedSession, jobs: list[Job]) -> FastAPI:
    async def open_session(job: Job) -> ScriptedSession:
        jobs.append(job)
        return session

    app = FastAPI()
    app.include_router(live_routes(settings, open_session, no_versions))
    return app


FINISHED = SessionFinished(
    result=JobResult(
        stdout="", stderr="", exit_code=0, timeout=False, exec_time_ms=1, status=Status.OK
    )
)


def test_ws_relays_events_and_controls(make_settings: Callable[..., Settings]) -> None:
    session = ScriptedSession(
        [
            SessionStarted(language="python", version="3"),
            KeepAlive(),
            OutputChunk(stage=Stage.RUN, stream=StreamName.STDOUT, data="name? "),
        ],
        hold=True,
    )
    jobs: list[Job] = []
    client = TestClient(app_with(make_settings(), session, jobs))
    with client.websocket_connect("/api/ws") as ws:
        ws.send_json({"type": "run", "language": "py", "source_code": "x", "stdin": "a"})
        assert ws.receive_json() == {"type": "started", "language": "python", "version": "3"}
        output = ws.receive_json()
        assert output["type"] == "output" and output["data"] == "name? "
        ws.send_json({"type": "stdin", "data": "bob\n"})
        ws.send_json({"type": "signal", "signal": "int"})
        ws.send_json({"type": "close_stdin"})
        ws.send_json({"type": "dance"})
        error = ws.receive_json()
        assert error["type"] == "error" and "stdin" in error["message"]
    (job,) = jobs
    assert job.interactive and job.language == "python" and job.stdin == "a"
    assert session.sent == [
        WireStdin(data="bob\n"),
        SendSignal(signal=2),
        CloseStdin(),
    ]
    assert session.closed.is_set()  # the client left: the run is cancelled


def test_ws_closes_normally_after_the_result(make_settings: Callable[..., Settings]) -> None:
    session = ScriptedSession([SessionStarted(language="python"), FINISHED])
    client = TestClient(app_with(make_settings(), session, []))
    with client.websocket_connect("/api/ws") as ws:
        ws.send_json({"type": "run", "language": "python", "source_code": "x"})
        assert ws.receive_json()["type"] == "started"
        finished = ws.receive_json()
        assert finished["type"] == "finished" and finished["result"]["status"] == "ok"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1000


@pytest.mark.parametrize(
    ("first", "fragment"),
    [
        ({"language": "python", "source_code": "x"}, '"type": "run"'),
        ({"type": "run", "language": "fsharp", "source_code": "x"}, "fsharp"),
        ({"type": "run", "language": "python", "source_code": " "}, "blank"),
        ({"type": "run", "language": "python", "source_code": "x", "extra": 1}, "unknown"),
    ],
)
def test_ws_refuses_a_bad_run_message(
    make_settings: Callable[..., Settings], first: dict[str, Any], fragment: str
) -> None:
    jobs: list[Job] = []
    client = TestClient(app_with(make_settings(), ScriptedSession([]), jobs))
    with client.websocket_connect("/api/ws") as ws:
        ws.send_json(first)
        error = ws.receive_json()
        assert error["type"] == "error" and fragment in error["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
    assert jobs == []


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


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (SandboxError("engine down"), "sandbox engine failed"),
        (RuntimeError("bug"), "worker failed"),
    ],
)
async def test_a_failure_under_a_live_run_ends_it_with_an_internal_error(
    make_settings: Callable[..., Settings], make_job: MakeJob, error: Exception, words: str
) -> None:
    sandbox = FakeSandbox(ok_sandbox_result())
    sandbox.error = error
    worker = Worker(make_settings(), MemoryBroker(1), sandbox)
    events = [e async for e in worker.run_session(make_job(), asyncio.Queue())]
    assert isinstance(events[0], SessionStarted)
    finished = events[-1]
    assert isinstance(finished, SessionFinished)
    assert finished.result.status == Status.INTERNAL_ERROR and words in finished.result.stderr
