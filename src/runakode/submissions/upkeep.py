import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from runakode.errors import StoreUnavailable
from runakode.sandboxes.ownership import local_liveness
from runakode.submissions.dispatch import Dispatcher
from runakode.submissions.record import Judge0Status
from runakode.submissions.runner import LEASE_S
from runakode.submissions.store import Instance, Pending, SubmissionStore

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
# An instance with no heartbeat for this long is gone (one on this host is known at once).
INSTANCE_TIMEOUT_S = 30.0
FORGET_INSTANCES_AFTER_S = 3600.0
# A submission stored this long ago and still undispatched was left by a request that failed
# to queue it (or died first): younger ones still belong to the request storing them.
DISPATCH_GRACE_S = 10.0
# An In Queue submission dispatched this long ago is dispatched again, in case the broker lost
# it (a purged queue): a duplicate is dropped when a worker finds the submission taken.
REDISPATCH_AFTER_S = 600.0
SWEEP_BATCH = 1000
PURGE_INTERVAL_S = 600.0


@dataclass(frozen=True)
class Identity:
    id: str
    role: str
    slots: int
    started_at: float


class Upkeep:
    """What keeps stored submissions moving, in every process that has the store: a heartbeat
    (this instance is alive, its held submissions' leases renewed), a sweeper that queues again
    what was lost, and the retention purge."""

    def __init__(
        self,
        store: SubmissionStore,
        dispatcher: Dispatcher,
        identity: Identity,
        *,
        retention_s: float,
        in_flight: Callable[[], int],
        holding: Callable[[], set[str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._identity = identity
        self._retention_s = retention_s
        self._in_flight = in_flight
        self._holding = holding
        self._clock = clock
        self._loop: asyncio.Task[None] | None = None
        self._purged_at = 0.0
        self.problem: str | None = None

    async def start(self) -> None:
        await self.tick()
        self._loop = asyncio.create_task(self._forever())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        with contextlib.suppress(StoreUnavailable):
            await self._store.leave(self._identity.id)

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self.tick()

    async def tick(self) -> None:
        try:
            await self.heartbeat()
            await self.sweep()
            if self._clock() - self._purged_at >= PURGE_INTERVAL_S:
                await self.purge()
        except StoreUnavailable as exc:
            if self.problem is None:
                log.warning("store upkeep failed: %s", exc.message)
            self.problem = exc.message
            return
        if self.problem is not None:
            log.info("store usable again")
        self.problem = None

    async def heartbeat(self) -> None:
        now = self._clock()
        identity = self._identity
        instance = Instance(
            identity.id, identity.role, identity.slots, self._in_flight(), identity.started_at, now
        )
        await self._store.heartbeat(instance, self._holding(), LEASE_S)

    async def sweep(self) -> int:
        """Queue again what nobody holds any more; how many were queued."""
        now = self._clock()
        pending = await self._store.pending(SWEEP_BATCH)
        if not pending:
            return 0
        fresh = {instance.id for instance in await self._store.instances(now - INSTANCE_TIMEOUT_S)}

        def alive(instance_id: str) -> bool:
            local = local_liveness(instance_id)
            return local if local is not None else instance_id in fresh

        queued = 0
        for submission in pending:
            if _lost(submission, now, alive) and await self._dispatcher.redispatch(submission):
                queued += 1
        if queued:
            log.warning("queued lost submissions again", extra={"count": queued})
        return queued

    async def purge(self) -> None:
        self._purged_at = self._clock()
        deleted = await self._store.purge_finished(self._purged_at - self._retention_s)
        if deleted:
            log.info("deleted submissions past their retention", extra={"count": deleted})
        await self._store.forget_instances(self._purged_at - FORGET_INSTANCES_AFTER_S)


def _lost(submission: Pending, now: float, alive: Callable[[str], bool]) -> bool:
    if submission.status == Judge0Status.PROCESSING:
        lease_over = submission.lease_until is None or submission.lease_until < now
        holder = submission.claimed_by
        return lease_over or holder is None or not alive(holder)
    if submission.dispatched_at is None:
        return submission.created_at < now - DISPATCH_GRACE_S
    if submission.dispatched_by is not None and not alive(submission.dispatched_by):
        return True
    return submission.dispatched_at < now - REDISPATCH_AFTER_S
