"""The native live run: WebSocket /api/ws.

The client's first message is a POST /api body with `"type": "run"`; the server answers with
the session's events as JSON text frames (started, stage, output, exit, finished) while the
client may send `{"type": "stdin", "data": ...}`, `{"type": "close_stdin"}` and
`{"type": "signal", "signal": "SIGINT"}` (a name or a number). After `finished` the server
closes with 1000. A problem is an `{"type": "error", "code", "message"}` frame, then a close:
1008 for a bad message, 1013 when the service is busy or unreachable, 1011 when it failed.
A client that goes away ends its run (and its sandbox) at once.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from runakode.api.native import describe_invalid
from runakode.availability import LanguageVersions, unavailable_now
from runakode.config import Settings
from runakode.errors import BadRequest, BrokerUnavailable, ResultTimeout, RunakodeError
from runakode.jobs import build_job
from runakode.logs import request_id_var
from runakode.models import ExecuteRequest, Job
from runakode.streaming import (
    SIGNALS,
    CloseStdin,
    KeepAlive,
    SendSignal,
    Session,
    SessionControl,
    stdin_controls,
)

log = logging.getLogger(__name__)

OpenSession = Callable[[Job], Awaitable[Session]]
# The first message must come this soon after the connection opens.
RUN_MESSAGE_TIMEOUT_S = 10.0
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_INTERNAL, CLOSE_TRY_LATER = 1000, 1008, 1011, 1013
# Text frames larger than this are refused (the native body's own cap).
MAX_MESSAGE_CHARS = 1 << 20


class _Refused(Exception):
    def __init__(self, code: str, message: str, close_code: int) -> None:
        super().__init__(message)
        self.code, self.message, self.close_code = code, message, close_code


def live_routes(
    settings: Settings, open_session: OpenSession, language_versions: LanguageVersions
) -> APIRouter:
    router = APIRouter()

    @router.websocket("/api/ws")
    async def live_run(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            unavailable = await unavailable_now(settings, language_versions)
            session = await _start(settings, open_session, websocket, unavailable)
        except _Refused as refused:
            await _refuse(websocket, refused)
            return
        except WebSocketDisconnect:
            return
        await _relay(websocket, session)

    return router


async def _start(
    settings: Settings,
    open_session: OpenSession,
    websocket: WebSocket,
    unavailable: frozenset[str],
) -> Session:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), RUN_MESSAGE_TIMEOUT_S)
    except TimeoutError:
        raise _Refused("bad_request", "no run message in time", CLOSE_POLICY) from None
    message = _json_object(text)
    if message.pop("type", None) != "run":
        raise _Refused("bad_request", 'the first message must have "type": "run"', CLOSE_POLICY)
    try:
        body = ExecuteRequest.model_validate(message)
        job = build_job(
            settings,
            body,
            request_id=request_id_var.get(),
            interactive=True,
            unavailable=unavailable,
        )
        return await open_session(job)
    except ValidationError as exc:
        raise _Refused("bad_request", describe_invalid(exc), CLOSE_POLICY) from None
    except BadRequest as exc:
        raise _Refused(exc.code, exc.message, CLOSE_POLICY) from None
    except BrokerUnavailable as exc:
        raise _Refused(exc.code, exc.message, CLOSE_TRY_LATER) from None


async def _relay(websocket: WebSocket, session: Session) -> None:
    """Events to the client, the client's input to the program, until either side ends."""
    reader = asyncio.create_task(_read_client(websocket, session))
    try:
        async for event in session.events():
            if isinstance(event, KeepAlive):
                continue
            await websocket.send_text(event.model_dump_json(exclude_none=True))
        await websocket.close(CLOSE_NORMAL)
    except ResultTimeout as exc:
        await _refuse(websocket, _Refused(exc.code, exc.message, CLOSE_TRY_LATER))
    except RunakodeError as exc:
        await _refuse(websocket, _Refused(exc.code, exc.message, CLOSE_INTERNAL))
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client left while we were writing
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await session.close()


async def _read_client(websocket: WebSocket, session: Session) -> None:
    try:
        while True:
            try:
                text = await websocket.receive_text()
            except KeyError:
                await _send_error(websocket, _Refused("bad_request", "text frames only", 0))
                continue
            try:
                controls = _controls(text)
            except _Refused as refused:
                await _send_error(websocket, refused)
                continue
            for control in controls:
                await session.send(control)
    except (WebSocketDisconnect, RuntimeError):
        # Gone: the run ends now, not at its deadline.
        await session.close()
    except RunakodeError as exc:
        log.warning("could not pass a live session's input on: %s", exc.message)
        await session.close()


def _controls(text: str) -> list[SessionControl]:
    message = _json_object(text)
    kind = message.get("type")
    if kind == "stdin" and isinstance(message.get("data"), str):
        return list(stdin_controls(message["data"]))
    if kind == "close_stdin":
        return [CloseStdin()]
    if kind == "signal":
        number = _signal_number(message.get("signal"))
        if number is None:
            raise _Refused("bad_request", f"unknown signal {message.get('signal')!r}", 0)
        return [SendSignal(signal=number)]
    raise _Refused(
        "bad_request", 'expected "type": "stdin" (with "data"), "close_stdin" or "signal"', 0
    )


def _signal_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in SIGNALS.values() else None
    if isinstance(value, str):
        name = value.upper()
        return SIGNALS.get(name if name.startswith("SIG") else f"SIG{name}")
    return None


def _json_object(text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE_CHARS:
        raise _Refused("payload_too_large", "message too large", CLOSE_POLICY)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise _Refused("bad_request", "a message must be a JSON object", CLOSE_POLICY) from None
    if not isinstance(data, dict):
        raise _Refused("bad_request", "a message must be a JSON object", CLOSE_POLICY)
    return data


async def _send_error(websocket: WebSocket, refused: _Refused) -> None:
    frame = {"type": "error", "code": refused.code, "message": refused.message}
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_text(json.dumps(frame))


async def _refuse(websocket: WebSocket, refused: _Refused) -> None:
    await _send_error(websocket, refused)
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(refused.close_code or CLOSE_POLICY)
