import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from runakode.submissions.record import Submission

# The broker's note that a submission ended can be lost (a worker that died after recording
# it); the store is read again this often meanwhile.
POLL_S = 1.0


class Waiters:
    """Requests waiting for their submission to end (Judge0's wait=true), woken by the broker's
    note that it did, with the store as the source of truth. No thread waits: only futures."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def finished(self, token: str) -> None:
        for event in self._waiting.get(token, ()):
            event.set()

    async def wait(
        self,
        token: str,
        read: Callable[[str], Awaitable[Submission | None]],
        timeout_s: float,
    ) -> Submission | None:
        """The submission once it has ended, or as it stands after timeout_s."""
        event = asyncio.Event()
        self._waiting.setdefault(token, set()).add(event)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                submission = await read(token)
                remaining = deadline - time.monotonic()
                if submission is None or submission.status.final or remaining <= 0:
                    return submission
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(POLL_S, remaining)):
                        await event.wait()
                event.clear()
        finally:
            events = self._waiting.get(token)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiting[token]
