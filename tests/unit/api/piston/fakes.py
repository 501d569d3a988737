"""Stand-ins for the Piston route tests: sessions that play scripted events, and what opens
them. They poll instead of waiting on asyncio primitives, so they work on whichever event loop
the app runs in (Starlette's TestClient runs it on a thread of its own)."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from runakode.models import Job, JobResult, Status
from runakode.streaming import (
    OutputChunk,
    SessionControl,
    SessionEvent,
    SessionFinished,
    SessionStarted,
    Stage,
    StageEnded,
    StageStarted,
    StreamName,
    WriteStdin,
)

POLL_S = 0.005


@dataclass
class WaitFor:
    """Pause the script until the client has sent a control of this type; then play what
    `then` makes of it."""

    kind: type
    then: Callable[[Any], list[SessionEvent]] = lambda _: []


@dataclass
class Hang:
    """Pause the script until the session is closed (a program that never ends)."""


@dataclass
class Fail:
    error: Exception


ScriptItem = SessionEvent | WaitFor | Hang | Fail


@dataclass
class FakeSession:
    script: list[ScriptItem]
    controls: list[SessionControl] = field(default_factory=list)
    closed: bool = False
    _consumed: int = 0

    async def events(self) -> AsyncIterator[SessionEvent]:
        for item in self.script:
            if isinstance(item, Fail):
                raise item.error
            if isinstance(item, Hang):
                while not self.closed:  # noqa: ASYNC110 (polls: no event bound to a loop)
                    await asyncio.sleep(POLL_S)
                return
            if isinstance(item, WaitFor):
                control = await self._next(item.kind)
                if control is None:
                    return
                for event in item.then(control):
                    yield event
                continue
            yield item

    async def _next(self, kind: type) -> SessionControl | None:
        """The next control of that kind the client sent; None once the session is closed."""
        while not self.closed:
            for index in range(self._consumed, len(self.controls)):
                if isinstance(self.controls[index], kind):
                    self._consumed = index + 1
                    return self.controls[index]
            await asyncio.sleep(POLL_S)
        return None

    async def send(self, control: SessionControl) -> None:
        self.controls.append(control)

    async def close(self) -> None:
        self.closed = True


class FakeOpener:
    """Stands in for OpenSession: records each job, answers a session playing `script`."""

    def __init__(self, script: Iterable[ScriptItem] = ()) -> None:
        self.script = list(script)
        self.jobs: list[Job] = []
        self.sessions: list[FakeSession] = []
        self.error: Exception | None = None
        self.delay_s = 0.0

    async def __call__(self, job: Job) -> FakeSession:
        self.jobs.append(job)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        session = FakeSession(list(self.script))
        self.sessions.append(session)
        return session

    @property
    def job(self) -> Job:
        [job] = self.jobs
        return job


def finished(status: Status = Status.OK, stderr: str = "") -> SessionFinished:
    result = JobResult(
        stdout="", stderr=stderr, exit_code=0, timeout=False, exec_time_ms=10, status=status
    )
    return SessionFinished(result=result)


def chunk(data: str, stream: str = "stdout", stage: Stage = Stage.RUN) -> OutputChunk:
    return OutputChunk(stage=stage, stream=StreamName(stream), data=data)


def ended(stage: Stage = Stage.RUN, **values: Any) -> StageEnded:
    fields: dict[str, Any] = {
        "status": Status.OK,
        "exit_code": 0,
        "wall_time_ms": 40,
        "cpu_time_ms": 20,
        "memory_kb": 9000,
    }
    fields.update(values)
    return StageEnded(stage=stage, **fields)


def stage(name: Stage, chunks: Iterable[OutputChunk] = (), **end: Any) -> list[SessionEvent]:
    return [StageStarted(stage=name), *chunks, ended(name, **end)]


def run_script(
    chunks: Iterable[OutputChunk] = (),
    *,
    compile_stage: list[SessionEvent] | None = None,
    version: str | None = "Python 3.11.2",
    language: str = "python",
    outcome: Status = Status.OK,
    **end: Any,
) -> list[ScriptItem]:
    """A whole session: started, an optional compile stage, the run stage, finished."""
    return [
        SessionStarted(language=language, version=version),
        *(compile_stage or []),
        *stage(Stage.RUN, chunks, **end),
        finished(outcome),
    ]


def echo(control: WriteStdin) -> list[SessionEvent]:
    return [chunk(f"got {control.data}")]
