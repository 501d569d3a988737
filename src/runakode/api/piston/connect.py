"""Piston's interactive run: WebSocket /api/v2/connect (`api/src/api/v2.js`).

The client sends `init` (execute's fields) within a second, then `data` frames for the program's
stdin and `signal` frames; the server sends `runtime`, then `stage`, `data` and `exit` frames,
and closes with 4999 after the last stage. Problems close with Piston's codes (4000-4005), an
`error` frame first for 4002. Unlike Piston, signals reach the program and output is capped.
"""

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from runakode.api.live import OpenSession
from runakode.api.piston.answers import served_runtimes
from runakode.availability import LanguageVersions
from runakode.config import Settings
from runakode.errors import RunakodeError
from runakode.logs import request_id_var
from runakode.models import Status
from runakode.piston.results import INTERNAL_ERROR, compile_failed, exit_frame
from runakode.piston.runtimes import PistonRuntime
from runakode.piston.semver import version_from_text
from runakode.piston.validation import parse_execute
from runakode.streaming import (
    SIGNALS,
    KeepAlive,
    OutputChunk,
    SendSignal,
    Session,
    SessionFinished,
    SessionStarted,
    Stage,
    StageEnded,
    StageStarted,
    stdin_controls,
)

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Ending:
    """How the server closes the socket, and the error frame it sends first, if any."""

    code: int
    reason: str
    error: str | None = None


ALREADY_INITIALIZED = Ending(4000, "Already Initialized")
INITIALIZATION_TIMEOUT = Ending(4001, "Initialization Timeout")
NOT_INITIALIZED = Ending(4003, "Not yet initialized")
STDIN_ONLY = Ending(4004, "Can only write to stdin")
INVALID_SIGNAL = Ending(4005, "Invalid signal")
JOB_COMPLETED = Ending(4999, "Job Completed")


def notified(message: str) -> Ending:
    # A close reason is at most 123 bytes: the message goes in an error frame.
    return Ending(4002, "Notified Error", message)


# A frame the client sent, or how its connection ended (None: it is gone).
Frame = dict[str, Any] | Ending | None


def connect_routes(
    settings: Settings, open_session: OpenSession, language_versions: LanguageVersions
) -> APIRouter:
    router = APIRouter()

    @router.websocket("/api/v2/connect")
    async def connect(websocket: WebSocket) -> None:
        await websocket.accept()
        runtimes = await served_runtimes(settings, language_versions)
        await _Connection(settings, open_session, websocket, runtimes).serve()

    return router


async def _stop(task: "asyncio.Task[Ending | None]") -> None:
    """Cancel the task and wait for it to end. Again if need be: on Python 3.11 a wait_for
    that is cancelled just as its result arrives returns the result and drops the cancel."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)


class _Connection:
    def __init__(
        self,
        settings: Settings,
        open_session: OpenSession,
        websocket: WebSocket,
        runtimes: list[PistonRuntime],
    ) -> None:
        self._settings = settings
        self._open_session = open_session
        self._websocket = websocket
        self._runtimes = runtimes
        # Set once the relay has ended: the run's events are no longer the client's.
        self._stopping = False

    async def serve(self) -> None:
        try:
            first = await asyncio.wait_for(self._receive(), INIT_TIMEOUT_S)
        except TimeoutError:
            first = INITIALIZATION_TIMEOUT
        if first is None or isinstance(first, Ending):
            await self._end(first)
            return
        kind = first.get("type")
        if kind != "init":
            await self._end(NOT_INITIALIZED if kind in ("data", "signal") else STDIN_ONLY)
            return
        try:
            parsed = parse_execute(
                self._settings,
                first,
                self._runtimes,
                request_id=request_id_var.get(),
                interactive=True,
            )
            session = await self._open_session(parsed.job)
        except RunakodeError as exc:
            await self._end(notified(exc.message))
            return
        try:
            ending = await self._relay(session, parsed.runtime)
        finally:
            # Whatever ended it, the run ends now (its sandbox with it), before the client
            # hears of it; a client that left is never waited for.
            await session.close()
        await self._end(ending)

    async def _relay(self, session: Session, runtime: PistonRuntime) -> Ending | None:
        """Until the run ends or the client goes: its events out, the client's frames in."""
        writer = asyncio.create_task(self._forward(session, runtime))
        reader = asyncio.create_task(self._read(session))
        try:
            done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stopping = True
            await asyncio.gather(_stop(writer), _stop(reader))
        if reader in done and not reader.cancelled() and reader.result() is None:
            return None
        finished = writer if writer in done else reader
        return finished.result()

    async def _forward(self, session: Session, runtime: PistonRuntime) -> Ending | None:
        try:
            return await self._forward_events(session, runtime)
        except RunakodeError as exc:
            return notified(exc.message)
        except (WebSocketDisconnect, RuntimeError):
            return None
        except Exception:
            log.exception("piston websocket: relaying the run failed")
            return notified(INTERNAL_ERROR)

    async def _forward_events(self, session: Session, runtime: PistonRuntime) -> Ending | None:
        cap = self._settings.output_max_bytes
        written = {"stdout": 0, "stderr": 0}
        announced = False
        async for event in session.events():
            if self._stopping:
                return None
            if isinstance(event, KeepAlive):
                continue
            if not announced:
                announced = True
                version = runtime.version
                if isinstance(event, SessionStarted) and event.version:
                    version = version_from_text(event.version) or version
                await self._send(
                    {"type": "runtime", "language": runtime.language, "version": version}
                )
            if isinstance(event, StageStarted):
                await self._send({"type": "stage", "stage": event.stage.value})
            elif isinstance(event, OutputChunk):
                written[event.stream] += len(event.data.encode("utf-8", errors="replace"))
                if written[event.stream] > cap:
                    return notified(f"{event.stream} length exceeded")
                await self._send({"type": "data", "stream": event.stream, "data": event.data})
            elif isinstance(event, StageEnded):
                await self._send(exit_frame(event))
                if event.output_limit is not None:
                    return notified(f"{event.output_limit} length exceeded")
                if event.status == Status.INTERNAL_ERROR:
                    return notified(event.message or INTERNAL_ERROR)
                if event.stage == Stage.RUN or compile_failed(event):
                    return JOB_COMPLETED
            elif isinstance(event, SessionFinished):
                if event.result.status == Status.INTERNAL_ERROR:
                    return notified(event.result.stderr or INTERNAL_ERROR)
                return JOB_COMPLETED
        return notified(INTERNAL_ERROR)

    async def _read(self, session: Session) -> Ending | None:
        try:
            return await self._read_frames(session)
        except RunakodeError as exc:
            return notified(exc.message)
        except Exception:
            log.exception("piston websocket: passing the client's input on failed")
            return notified(INTERNAL_ERROR)

    async def _read_frames(self, session: Session) -> Ending | None:
        while True:
            frame = await self._receive()
            if frame is None or isinstance(frame, Ending):
                return frame
            kind = frame.get("type")
            if kind == "init":
                return ALREADY_INITIALIZED
            if kind == "data":
                if frame.get("stream") != "stdin":
                    return STDIN_ONLY
                data = frame.get("data")
                if not isinstance(data, str):
                    return notified("data must be a string")
                try:
                    data.encode("utf-8")
                except UnicodeEncodeError:
                    return notified("data must be valid Unicode text")
                for control in stdin_controls(data):
                    await session.send(control)
            elif kind == "signal":
                signal = frame.get("signal")
                number = SIGNALS.get(signal) if isinstance(signal, str) else None
                if number is None:
                    return INVALID_SIGNAL
                await session.send(SendSignal(signal=number))
            else:
                return STDIN_ONLY

    async def _receive(self) -> Frame:
        message = await self._websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
        try:
            frame = json.loads(text)
        except json.JSONDecodeError as exc:
            return notified(f"a frame must be JSON ({exc.msg} at position {exc.pos})")
        except RecursionError:
            return notified("a frame must be JSON")
        if not isinstance(frame, dict):
            return notified("a frame must be a JSON object")
        return frame

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._websocket.send_text(json.dumps(frame))

    async def _end(self, ending: Ending | None) -> None:
        websocket = self._websocket
        if ending is None or websocket.application_state == WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            if ending.error is not None:
                await self._send({"type": "error", "message": ending.error})
            await websocket.close(ending.code, ending.reason)
