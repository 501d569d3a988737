"""runakode.brokers.sessions.QueuedSession: when a started run counts as silent."""

import asyncio

import pytest

from runakode.brokers.sessions import QueuedSession
from runakode.errors import ResultTimeout
from runakode.models import JobResult
from runakode.streaming import SessionFinished, SessionStarted


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
