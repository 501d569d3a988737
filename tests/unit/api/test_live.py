"""api/live.py: the native WebSocket route of live runs, with scripted sessions."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from runakode.api.live import live_routes
from runakode.api.native import no_versions
from runakode.config import Settings
from runakode.models import Job, JobResult, Status
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
    StreamName,
)
from runakode.streaming import WriteStdin as WireStdin


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
