import logging
from collections.abc import Sequence

from runakode.brokers import Broker
from runakode.errors import BrokerUnavailable, QueueFull, StoreUnavailable
from runakode.models import SubmissionTicket
from runakode.submissions.record import Submission
from runakode.submissions.store import Pending, SubmissionStore

log = logging.getLogger(__name__)


class Dispatcher:
    """Hands stored submissions to the broker and records that it has them. A refusal loses
    nothing: the submission stays stored undispatched, and a sweeper dispatches it later."""

    def __init__(self, broker: Broker, store: SubmissionStore, instance_id: str) -> None:
        self._broker = broker
        self._store = store
        # Jobs in this process's memory die with it: the sweeper must know whose they were.
        self._holder = None if broker.durable else instance_id

    async def dispatch_new(
        self, created: Sequence[Submission], *, notify: bool, request_id: str | None
    ) -> bool:
        """Dispatch submissions just stored; False if the broker did not take them (yet)."""
        tickets = [SubmissionTicket(token=s.token, request_id=request_id) for s in created]
        try:
            await self._broker.dispatch(tickets, notify=notify)
        except (BrokerUnavailable, QueueFull) as exc:
            log.warning("submissions stored, queued later: %s", exc.message)
            return False
        try:
            await self._store.mark_dispatched([ticket.token for ticket in tickets], self._holder)
        except StoreUnavailable as exc:
            # Queued, but the store does not know: a sweeper may dispatch them again, and the
            # duplicate is dropped when a worker finds the submission taken.
            log.warning("submissions queued, not marked: %s", exc.message)
        return True

    async def redispatch(self, pending: Pending) -> bool:
        """Queue a lost or undispatched submission again, unless another process did."""
        if not await self._store.take_for_dispatch(pending, self._holder):
            return False
        try:
            await self._broker.dispatch([SubmissionTicket(token=pending.token)], notify=False)
        except (BrokerUnavailable, QueueFull) as exc:
            log.warning("could not queue a submission again: %s", exc.message)
            await self._store.mark_undispatched([pending.token])
            return False
        return True
