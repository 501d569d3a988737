"""A live run, as it travels between a worker and the API: events out, controls in.

A session is one job whose output is forwarded as it is written and whose stdin stays open for
the client. The worker turns its sandbox's events into these (text already decoded, one
incremental UTF-8 decoder per stream), the broker carries them (in process, or over RabbitMQ
for a worker on another host), and each API route renders them in its own protocol: the
native WebSocket, Piston's WebSocket, and Piston's execute, which collects them into one
answer.
"""

import signal as signals
from collections.abc import AsyncIterator
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from runakode.models import JobResult, Status
from runakode.sandboxes import base as sandbox
from runakode.sandboxes.base import Phase, ProgramControl, Stream

# A session's stages and streams are its sandbox's phases and streams, under their wire names.
Stage = Phase
StreamName = Stream


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionStarted(_Event):
    """A worker took the session: its sandbox is about to receive the program."""

    type: Literal["started"] = "started"
    language: str
    version: str | None = None


class StageStarted(_Event):
    type: Literal["stage"] = "stage"
    stage: Stage


class OutputChunk(_Event):
    """What the program wrote, in the order it was written."""

    type: Literal["output"] = "output"
    stage: Stage
    stream: StreamName
    data: str


class StageEnded(_Event):
    """How a stage's process ended and what it used."""

    type: Literal["exit"] = "exit"
    stage: Stage
    status: Status
    exit_code: int | None
    # The signal that ended it (a number; None when it exited by itself).
    signal: int | None = None
    wall_time_ms: int = 0
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    # Which limit ended it, if one did.
    time_limit: Literal["wall", "cpu"] | None = None
    memory_exceeded: bool = False
    # The stream that went over the output cap (the stage was killed for it).
    output_limit: StreamName | None = None
    truncated: bool = False
    # The service's own word on an abnormal end.
    message: str | None = None


class SessionFinished(_Event):
    """The last event: the whole run as POST /api would answer it."""

    type: Literal["finished"] = "finished"
    result: JobResult


class KeepAlive(_Event):
    """Sent by a worker while the program is silent, so either side notices the other gone."""

    type: Literal["keepalive"] = "keepalive"


SessionEvent = Annotated[
    SessionStarted | StageStarted | OutputChunk | StageEnded | SessionFinished | KeepAlive,
    Field(discriminator="type"),
]
SESSION_EVENT: TypeAdapter[SessionEvent] = TypeAdapter(SessionEvent)


class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Characters in one stdin control; a longer write is split by the sender (stdin_controls).
MAX_STDIN_CHARS = 1 << 16


class WriteStdin(_Control):
    type: Literal["stdin"] = "stdin"
    data: str = Field(max_length=MAX_STDIN_CHARS)


class CloseStdin(_Control):
    type: Literal["close_stdin"] = "close_stdin"


class SendSignal(_Control):
    type: Literal["signal"] = "signal"
    signal: int = Field(ge=1, le=31)


class Cancel(_Control):
    """The client is gone: end the run and its sandbox now."""

    type: Literal["cancel"] = "cancel"


SessionControl = Annotated[
    WriteStdin | CloseStdin | SendSignal | Cancel, Field(discriminator="type")
]
SESSION_CONTROL: TypeAdapter[SessionControl] = TypeAdapter(SessionControl)


def stdin_controls(text: str) -> list[WriteStdin]:
    """A client's stdin as controls of at most MAX_STDIN_CHARS each."""
    return [
        WriteStdin(data=text[start : start + MAX_STDIN_CHARS])
        for start in range(0, len(text), MAX_STDIN_CHARS)
    ]


def program_control(control: SessionControl) -> ProgramControl | None:
    """What the running program gets for a control (None for Cancel, which ends the run)."""
    if isinstance(control, WriteStdin):
        return sandbox.WriteStdin(control.data.encode("utf-8", errors="replace"))
    if isinstance(control, CloseStdin):
        return sandbox.CloseStdin()
    if isinstance(control, SendSignal):
        return sandbox.Signal(control.signal)
    return None


# Signals a client may send, by name (Piston's table: the standard POSIX ones).
SIGNALS: dict[str, int] = {
    member.name: int(member.value)
    for member in signals.Signals
    if member.name.startswith("SIG")
    and not member.name.startswith("SIG_")
    and 1 <= int(member.value) <= 31
}


def signal_name(number: int | None) -> str | None:
    """SIGKILL for 9; None for None; "SIG<n>" for a number with no name here."""
    if number is None:
        return None
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"SIG{number}"


class Session(Protocol):
    """The API's end of a session: read its events, send it controls, close it when done.

    `events` ends after SessionFinished; it raises BrokerUnavailable or ResultTimeout when the
    worker cannot be reached or stops answering. Closing an unfinished session cancels it (its
    sandbox ends within a second)."""

    def events(self) -> AsyncIterator[SessionEvent]: ...

    async def send(self, control: SessionControl) -> None: ...

    async def close(self) -> None: ...


async def collect(session: Session) -> list[SessionEvent]:
    """Every event of a session that is only read (Piston's execute), the session closed after."""
    try:
        return [event async for event in session.events() if not isinstance(event, KeepAlive)]
    finally:
        await session.close()
