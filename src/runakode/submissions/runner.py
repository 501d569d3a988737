import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from runakode.config import Settings
from runakode.errors import PoisonJob
from runakode.jobs import submission_sandbox_job
from runakode.judge0.grading import outcome_of
from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.judge0.serialization import DEFAULT_FIELDS, render
from runakode.models import Status, SubmissionTicket
from runakode.sandboxes.base import SandboxJob, SandboxResult
from runakode.submissions.callbacks import CallbackSender
from runakode.submissions.record import Judge0Status, Submission, SubmissionOutcome
from runakode.submissions.store import SubmissionStore

log = logging.getLogger(__name__)

# A held submission's lease: the holder renews it with every heartbeat (upkeep.py); once it
# runs out, the holder is presumed dead and the submission is queued again.
LEASE_S = 30.0
# A submission whose job was lost this many times (each time its worker died or stopped) is
# not run again: it may be what kills them.
MAX_ATTEMPTS = 3

RunInSandbox = Callable[[SandboxJob], Awaitable[SandboxResult]]


@dataclass(frozen=True)
class SubmissionRun:
    """What a worker ran for a submission, for its metrics and logs."""

    language: str
    status: Status
    exit_code: int | None


class SubmissionRunner:
    """The worker's side of a stored submission: claim it, run it (number_of_runs times, each in
    a fresh sandbox), record the outcome once, then call its callback."""

    def __init__(
        self,
        settings: Settings,
        store: SubmissionStore,
        callbacks: CallbackSender,
        holder: str,
    ) -> None:
        self._settings = settings
        self._store = store
        self._callbacks = callbacks
        self._holder = holder
        # Tokens this process holds now: their leases are renewed while they run.
        self.holding: set[str] = set()

    async def run(
        self, ticket: SubmissionTicket, run_in_sandbox: RunInSandbox, *, redelivered: bool
    ) -> SubmissionRun | None:
        """None when there was nothing to run: the submission ended already, or is held by a
        live worker. StoreUnavailable when the store does not answer."""
        claim = await self._store.claim(
            ticket.token, self._holder, LEASE_S, redelivered=redelivered
        )
        if claim is None:
            log.info("submission not ours to run", extra={"token": ticket.token})
            return None
        self.holding.add(ticket.token)
        try:
            if claim.attempt > MAX_ATTEMPTS:
                outcome, last = _given_up(claim.attempt), None
            else:
                outcome, last = await self._outcome(claim.submission, run_in_sandbox)
            finished = await self._store.finish(claim, self._holder, outcome)
        finally:
            self.holding.discard(ticket.token)
        if finished is None:
            log.warning("another worker recorded this submission", extra={"token": ticket.token})
            return None
        self._call_back(finished)
        entry = JUDGE0_LANGUAGES.get(finished.request.language_id)
        return SubmissionRun(
            language=entry.runtime if entry else "unknown",
            status=last.status if last is not None else Status.INTERNAL_ERROR,
            exit_code=outcome.exit_code,
        )

    async def _outcome(
        self, submission: Submission, run_in_sandbox: RunInSandbox
    ) -> tuple[SubmissionOutcome, SandboxResult | None]:
        try:
            job = submission_sandbox_job(self._settings, submission)
        except PoisonJob as exc:
            return SubmissionOutcome.internal_error(exc.message), None
        request = submission.request
        runs: list[SandboxResult] = []
        for number in range(request.number_of_runs):
            result = await run_in_sandbox(replace(job, job_id=f"{submission.token}/{number}"))
            runs.append(result)
            # As Judge0: the runs stop at the first that is not accepted.
            if outcome_of([result], request).status != Judge0Status.ACCEPTED:
                break
        return outcome_of(runs, request), runs[-1]

    def _call_back(self, submission: Submission) -> None:
        url = submission.request.callback_url
        if not url or not self._settings.callbacks.enabled:
            return
        body = render(submission, DEFAULT_FIELDS, base64_encoded=True)
        self._callbacks.schedule(url, json.dumps(body).encode(), job_id=submission.token)


def _given_up(attempt: int) -> SubmissionOutcome:
    return SubmissionOutcome.internal_error(
        f"the job was lost {attempt - 1} times (its worker died or stopped while running it); "
        "it is not run again"
    )
