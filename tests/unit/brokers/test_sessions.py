"""runakode.brokers.sessions.QueuedSession: when a started run counts as silent, and a client
too slow for its output."""

import asyncio

import pytest

from runakode.brokers import sessions as session_module
from runakode.brokers.sessions import QueuedSession
from runakode.errors import ResultTimeout
from runakode.models import JobResult
from runakode.streaming import (
    OutputChunk,
    SessionControl,
    SessionFinished,
    SessionStarted,
    Stage,
    StreamName,
)


async def nothing(*_: object) -> None:
    return None


async def read_all(session: QueuedSession) -> list[object]:
    return [event async for event in session.events()]


async def test_a_worker_in_another_process_that_goes_silent_ends_the_session() -> None:
    session = QueuedSession(5.0, nothing, nothing, liveness_timeout_s=0.05)
    await session.put(SessionStarted(language="scala"))
    with pytest.raises(ResultTimeout, match="went silent"):
        await read_all(session)


async def test_a_worker_in_this_process_may_compile_silently_for_long() -> None:
    # The memory broker's sessions: a compile sends nothing until it ends.
    session = QueuedSession(5.0, nothing, nothing, liveness_timeout_s=None)
    await session.put(SessionStarted(language="scala"))
    reader = asyncio.create_task(read_all(session))
    await asyncio.sleep(0.2)
    assert not reader.done()
    await session.put(SessionFinished(result=JobResult.internal_error("done")))
    events = await asyncio.wait_for(reader, 1.0)
    assert [type(event) for event in events] == [SessionStarted, SessionFinished]


async def test_a_silent_worker_is_given_up_on() -> None:
    # Its timeout is given here: the default was bound when QueuedSession was defined, so
    # patching LIVENESS_TIMEOUT_S would leave this test waiting the real 15 s.
    session = QueuedSession(5, nothing, nothing, liveness_timeout_s=0.05)
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
