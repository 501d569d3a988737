"""Piston's WebSocket /api/v2/connect in process, with sessions that play scripted events."""

import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from runakode.api import create_app
from runakode.config import Settings
from runakode.errors import BrokerUnavailable, ResultTimeout
from runakode.models import JobResult, Status
from runakode.streaming import (
    SendSignal,
    SessionStarted,
    Stage,
    StageStarted,
    WriteStdin,
)
from unit.api.piston.fakes import (
    Fail,
    FakeOpener,
    Hang,
    WaitFor,
    chunk,
    echo,
    ended,
    finished,
    run_script,
    stage,
)
from unit.fakes import FakeSubmit

with warnings.catch_warnings():
    # Starlette would rather its TestClient ran on httpx2; httpx works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LANGS = ["python", "c"]
INIT = {"type": "init", "language": "python", "version": "3.x", "files": [{"content": "x"}]}


@pytest.fixture
def make_client(
    make_settings: Callable[..., Settings], opener: FakeOpener
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**values: Any) -> TestClient:
        config: dict[str, Any] = {
            "supportedLanguages": LANGS,
            "sandboxImages": {name: f"{name}-img" for name in LANGS},
            "outputMaxBytes": 64,
            "rateLimit": {"requestsPerSecond": 0, "burst": 0},
        }
        config.update(values)

        async def versions() -> dict[str, str | None]:
            return {"python": "Python 3.11.2", "c": "gcc 12.2.0"}

        app = create_app(
            make_settings(**config),
            FakeSubmit(JobResult.internal_error("unused")),
            [],
            language_versions=versions,
            open_session=opener,
        )
        client = TestClient(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def frames_until_close(ws: Any) -> tuple[list[dict[str, Any]], int, str]:
    """Every frame the server sends, then its close code and reason."""
    frames = []
    while True:
        try:
            frames.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            return frames, closed.code, closed.reason


def test_a_run_is_relayed_and_closed_4999(client: TestClient, opener: FakeOpener) -> None:
    opener.script = run_script([chunk("a"), chunk("b", "stderr")], exit_code=3)
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        frames, code, reason = frames_until_close(ws)
    assert frames == [
        {"type": "runtime", "language": "python", "version": "3.11.2"},
        {"type": "stage", "stage": "run"},
        {"type": "data", "stream": "stdout", "data": "a"},
        {"type": "data", "stream": "stderr", "data": "b"},
        {"type": "exit", "stage": "run", "code": 3, "signal": None},
    ]
    assert (code, reason) == (4999, "Job Completed")
    job = opener.job
    # The init's stdin is ignored: only data frames feed the program.
    assert job.interactive and job.stdin == ""
    assert opener.sessions[0].closed


def test_stdin_frames_reach_the_program(client: TestClient, opener: FakeOpener) -> None:
    opener.script = [
        SessionStarted(language="python"),
        StageStarted(stage=Stage.RUN),
        chunk("name? "),
        WaitFor(WriteStdin, echo),
        ended(),
        finished(),
    ]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json({**INIT, "stdin": "ignored"})
        assert ws.receive_json()["type"] == "runtime"
        assert ws.receive_json() == {"type": "stage", "stage": "run"}
        assert ws.receive_json()["data"] == "name? "
        ws.send_json({"type": "data", "stream": "stdin", "data": "Ada\n"})
        assert ws.receive_json() == {"type": "data", "stream": "stdout", "data": "got Ada\n"}
        frames, code, _ = frames_until_close(ws)
    assert frames == [{"type": "exit", "stage": "run", "code": 0, "signal": None}]
    assert code == 4999
    assert opener.sessions[0].controls == [WriteStdin(data="Ada\n")]


def test_signals_are_delivered(client: TestClient, opener: FakeOpener) -> None:
    def killed(control: SendSignal) -> list[Any]:
        return [ended(exit_code=None, signal=control.signal), finished()]

    opener.script = [
        SessionStarted(language="python"),
        StageStarted(stage=Stage.RUN),
        WaitFor(SendSignal, killed),
    ]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        assert ws.receive_json()["type"] == "runtime"
        assert ws.receive_json()["type"] == "stage"
        ws.send_json({"type": "signal", "signal": "SIGTERM"})
        frames, code, _ = frames_until_close(ws)
    assert frames == [{"type": "exit", "stage": "run", "code": None, "signal": "SIGTERM"}]
    assert code == 4999
    assert opener.sessions[0].controls == [SendSignal(signal=15)]


def test_a_deadline_ends_with_sigkill(client: TestClient, opener: FakeOpener) -> None:
    opener.script = run_script(exit_code=None, signal=9, time_limit="wall", status=Status.TIMEOUT)
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json({**INIT, "run_timeout": 500})
        frames, code, _ = frames_until_close(ws)
    assert frames[-1] == {"type": "exit", "stage": "run", "code": None, "signal": "SIGKILL"}
    assert code == 4999
    assert opener.job.timeout_s == 0.5


def test_compile_stage_and_its_failure(client: TestClient, opener: FakeOpener) -> None:
    opener.script = [
        SessionStarted(language="c"),
        *stage(
            Stage.COMPILE,
            [chunk("error\n", "stderr", Stage.COMPILE)],
            exit_code=1,
            status=Status.COMPILE_ERROR,
        ),
        Hang(),
    ]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json({**INIT, "language": "c", "version": "12"})
        frames, code, _ = frames_until_close(ws)
    assert frames == [
        {"type": "runtime", "language": "c", "version": "12.2.0"},
        {"type": "stage", "stage": "compile"},
        {"type": "data", "stream": "stderr", "data": "error\n"},
        {"type": "exit", "stage": "compile", "code": 1, "signal": None},
    ]
    assert code == 4999
    assert opener.sessions[0].closed


def test_output_over_the_limit_is_an_error_and_4002(client: TestClient, opener: FakeOpener) -> None:
    opener.script = run_script(
        [chunk("x" * 64)], exit_code=None, output_limit="stdout", status=Status.OUTPUT_LIMIT
    )
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        frames, code, reason = frames_until_close(ws)
    assert frames[-2:] == [
        {"type": "exit", "stage": "run", "code": None, "signal": "SIGKILL"},
        {"type": "error", "message": "stdout length exceeded"},
    ]
    assert (code, reason) == (4002, "Notified Error")


def test_output_the_worker_did_not_cap_is_capped_here(
    client: TestClient, opener: FakeOpener
) -> None:
    opener.script = [
        SessionStarted(language="python"),
        StageStarted(stage=Stage.RUN),
        chunk("e" * 40, "stderr"),
        chunk("e" * 40, "stderr"),
        Hang(),
    ]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        frames, code, _ = frames_until_close(ws)
    assert frames[-1] == {"type": "error", "message": "stderr length exceeded"}
    assert sum(len(f.get("data", "")) for f in frames) == 40
    assert code == 4002
    assert opener.sessions[0].closed


def test_a_client_that_leaves_ends_its_session_at_once(
    client: TestClient, opener: FakeOpener
) -> None:
    opener.script = [SessionStarted(language="python"), StageStarted(stage=Stage.RUN), Hang()]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        assert ws.receive_json()["type"] == "runtime"
        assert ws.receive_json()["type"] == "stage"
        ws.close(1001)
        session = opener.sessions[0]
        deadline = time.monotonic() + 1
        while not session.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.closed


def test_no_init_within_a_second_is_4001(client: TestClient, opener: FakeOpener) -> None:
    started = time.monotonic()
    with client.websocket_connect("/api/v2/connect") as ws:
        frames, code, reason = frames_until_close(ws)
    assert (frames, code, reason) == ([], 4001, "Initialization Timeout")
    assert 0.9 < time.monotonic() - started < 3
    assert opener.jobs == []


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        ({"type": "data", "stream": "stdin", "data": "x"}, 4003, "Not yet initialized"),
        ({"type": "signal", "signal": "SIGKILL"}, 4003, "Not yet initialized"),
        ({"type": "kill"}, 4004, "Can only write to stdin"),
    ],
)
def test_frames_before_init(
    client: TestClient, opener: FakeOpener, frame: dict[str, Any], code: int, reason: str
) -> None:
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(frame)
        assert frames_until_close(ws) == ([], code, reason)
    assert opener.jobs == []


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (INIT, 4000, "Already Initialized"),
        ({"type": "data", "stream": "stdout", "data": "x"}, 4004, "Can only write to stdin"),
        ({"type": "resize"}, 4004, "Can only write to stdin"),
        ({"type": "signal", "signal": "SIGNOPE"}, 4005, "Invalid signal"),
        ({"type": "signal", "signal": 9}, 4005, "Invalid signal"),
    ],
)
def test_frames_after_init(
    client: TestClient, opener: FakeOpener, frame: dict[str, Any], code: int, reason: str
) -> None:
    opener.script = [SessionStarted(language="python"), StageStarted(stage=Stage.RUN), Hang()]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        assert ws.receive_json()["type"] == "runtime"
        assert ws.receive_json()["type"] == "stage"
        ws.send_json(frame)
        assert frames_until_close(ws) == ([], code, reason)
    assert opener.sessions[0].closed


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ({**INIT, "language": "cobol"}, "cobol-3.x runtime is unknown"),
        ({**INIT, "files": "x"}, "files is required as an array"),
        ({**INIT, "run_timeout": 999_999}, "run_timeout cannot exceed the configured limit"),
    ],
)
def test_an_invalid_init_is_an_error_frame_and_4002(
    client: TestClient, opener: FakeOpener, init: dict[str, Any], message: str
) -> None:
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(init)
        frames, code, reason = frames_until_close(ws)
    [frame] = frames
    assert frame["type"] == "error" and frame["message"].startswith(message)
    assert (code, reason) == (4002, "Notified Error")
    assert opener.jobs == []


def test_invalid_json_is_an_error_frame_and_4002(client: TestClient) -> None:
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_text("{nope")
        frames, code, _ = frames_until_close(ws)
    assert frames[0]["type"] == "error" and frames[0]["message"].startswith("a frame must be JSON")
    assert code == 4002


def test_a_busy_service_is_an_error_frame_and_4002(client: TestClient, opener: FakeOpener) -> None:
    opener.error = BrokerUnavailable("the job queue is full")
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        assert frames_until_close(ws) == (
            [{"type": "error", "message": "the job queue is full"}],
            4002,
            "Notified Error",
        )


def test_a_lost_worker_is_an_error_frame_and_4002(client: TestClient, opener: FakeOpener) -> None:
    opener.script = [
        SessionStarted(language="python"),
        StageStarted(stage=Stage.RUN),
        Fail(ResultTimeout("the worker stopped answering")),
    ]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        frames, code, _ = frames_until_close(ws)
    assert frames[-1] == {"type": "error", "message": "the worker stopped answering"}
    assert code == 4002
    assert opener.sessions[0].closed


def test_stdin_sent_while_the_session_opens_is_kept(client: TestClient, opener: FakeOpener) -> None:
    opener.delay_s = 0.2
    opener.script = [
        SessionStarted(language="python"),
        StageStarted(stage=Stage.RUN),
        WaitFor(WriteStdin, echo),
        ended(),
        finished(),
    ]
    with client.websocket_connect("/api/v2/connect") as ws:
        ws.send_json(INIT)
        ws.send_json({"type": "data", "stream": "stdin", "data": "early\n"})
        frames, code, _ = frames_until_close(ws)
    assert {"type": "data", "stream": "stdout", "data": "got early\n"} in frames
    assert code == 4999
