"""The API's end of a live session, whatever carries it: events arrive in a bounded queue,
controls leave through the transport, and the session ends on SessionFinished, on close, or
when the worker stops answering."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from runakode.errors import ResultTimeout
from runakode.models import JobResult
from runakode.streaming import (
    Cancel,
    SessionControl,
    SessionEvent,
    SessionFinished,
    SessionStarted,
)

# A worker sends a keep-alive after this long without an event; the API gives up on one that
# has sent nothing for LIVENESS_TIMEOUT_S (it was killed, or lost its broker connection).
KEEPALIVE_INTERVAL_S = 5.0
LIVENESS_TIMEOUT_S = 3 * KEEPALIVE_INTERVAL_S
# How many of a live session's events may pile up unread before it is ended.
SESSION_EVENTS_BUFFER = 1024


class QueuedSession:
    """Events in, controls out: `send_control` and `cancel` are the transport's."""

    def __init__(
        self,
        start_timeout_s: float,
        send_control: Callable[[SessionControl], Awaitable[None]],
        cancel: Callable[[], Awaitable[None]],
        on_close: Callable[[], None] = lambda: None,
        liveness_timeout_s: float | None = LIVENESS_TIMEOUT_S,
    ) -> None:
        self._events: asyncio.Queue[SessionEvent] = asyncio.Queue(SESSION_EVENTS_BUFFER)
        self._start_timeout_s = start_timeout_s
        # None: the worker is in this process, so it cannot go silent while the process lives
        # (a long compile sends nothing for a while; the run's own deadlines bound it).
        self._liveness_timeout_s = liveness_timeout_s
        self._send_control = send_control
        self._cancel = cancel
        self._on_close = on_close
        self.started = False
        # Set when a worker has taken the session (before its reader sees it).
        self._taken = asyncio.Event()
        self.finished = False
        self.closed = False
        # Where the transport sends controls, once the worker has said (RabbitMQ).
        self.control_route: str | None = None

    def deliver(self, event: SessionEvent) -> None:
        """From the transport. A client that reads nothing while its program floods ends it."""
        if self.finished or self.closed:
            return
        if isinstance(event, SessionStarted):
            self._taken.set()
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.fail("the client did not read the program's output fast enough")

    async def put(self, event: SessionEvent) -> None:
        """From a transport in this process: waits for room instead of failing."""
        if not (self.finished or self.closed):
            if isinstance(event, SessionStarted):
                self._taken.set()
            await self._events.put(event)

    def fail(self, message: str) -> None:
        """End the session with an internal error (its run is cancelled at close)."""
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._events.get_nowait()
        self._events.put_nowait(SessionFinished(result=JobResult.internal_error(message)))

    async def events(self) -> AsyncIterator[SessionEvent]:
        while not self.finished:
            timeout_s = self._liveness_timeout_s if self.started else self._start_timeout_s
            try:
                # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a
                # cancellation that arrives together with an event.
                async with asyncio.timeout(timeout_s):
                    event = await self._events.get()
            except TimeoutError:
                if self.started:
                    problem = f"the worker running it went silent for {timeout_s:g} s"
                else:
                    problem = f"no worker took the run within {timeout_s:g} s"
                raise ResultTimeout(problem) from None
            if isinstance(event, SessionStarted):
                self.started = True
            elif isinstance(event, SessionFinished):
                self.finished = True
            yield event

    async def send(self, control: SessionControl) -> None:
        """Controls wait until a worker has taken the session (the transport then knows where
        they go), and leave in the order they were sent."""
        if isinstance(control, Cancel):
            await self.close()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._start_timeout_s):
                await self._taken.wait()
        if self._taken.is_set() and not (self.closed or self.finished):
            await self._send_control(control)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._on_close()
        if not self.finished:
            await self._cancel()
