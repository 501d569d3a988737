"""The routes' way to the broker, through admission: a run holds its place in the backlog from
the moment it is accepted until it ends, and a full queue's 503 says when to come back."""

from collections.abc import AsyncIterator

from runakode import metrics
from runakode.admission import Admission, Ticket
from runakode.api.live import OpenSession
from runakode.api.native import Submit
from runakode.errors import QueueFull, ResultTimeout
from runakode.models import Job, JobResult
from runakode.streaming import Session, SessionControl, SessionEvent


def admitted_submit(admission: Admission, submit: Submit) -> Submit:
    """A run to its end (POST /api, /execute): its deadline is the timeout it waits with."""

    async def submit_admitted(job: Job, timeout_s: float) -> JobResult:
        ticket = admission.admit(timeout_s)
        answered = False
        try:
            result = await submit(job, timeout_s)
            answered = True
            return result
        except QueueFull as exc:
            raise _with_retry_after(admission, exc, timeout_s) from None
        finally:
            ticket.release(answered=answered)

    return submit_admitted


def admitted_sessions(
    admission: Admission, open_session: OpenSession, deadline_s: float
) -> OpenSession:
    """Sessions (Piston's execute and the live WebSockets) must start, and Piston's execute
    end, within deadline_s. A live run keeps its place while it runs, however long its client
    takes: its worker is busy all that time."""

    async def open_admitted(job: Job) -> Session:
        ticket = admission.admit(deadline_s, interactive=job.interactive)
        try:
            session = await open_session(job)
        except QueueFull as exc:
            ticket.release(answered=False)
            raise _with_retry_after(admission, exc, deadline_s) from None
        except BaseException:
            ticket.release(answered=False)
            raise
        return _AdmittedSession(session, ticket)

    return open_admitted


class _AdmittedSession:
    """Gives its place back when the session ends: answered once a worker had taken it (that
    worker is free again), not when it never started or its worker went silent."""

    def __init__(self, session: Session, ticket: Ticket) -> None:
        self._session = session
        self._ticket = ticket
        self._taken = False

    async def events(self) -> AsyncIterator[SessionEvent]:
        try:
            async for event in self._session.events():
                self._taken = True
                yield event
        except ResultTimeout:
            self._ticket.release(answered=False)
            raise
        finally:
            self._ticket.release(answered=self._taken)

    async def send(self, control: SessionControl) -> None:
        await self._session.send(control)

    async def close(self) -> None:
        try:
            await self._session.close()
        finally:
            self._ticket.release(answered=self._taken)


def _with_retry_after(admission: Admission, full: QueueFull, deadline_s: float) -> QueueFull:
    metrics.REFUSED.labels("queue_full").inc()
    retry_s = admission.retry_after_s(deadline_s)
    return QueueFull(full.message, {"Retry-After": str(retry_s)})
