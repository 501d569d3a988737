from collections.abc import Sequence

from runakode.config import Settings
from runakode.jobs import submission_worst_case_s
from runakode.submissions.dispatch import Dispatcher
from runakode.submissions.record import Submission, SubmissionRequest
from runakode.submissions.store import SubmissionStore
from runakode.submissions.waiters import Waiters


class Intake:
    """The API's side of stored submissions: store first (the token exists only once the row
    does), then queue; and wait for one to end without blocking anything."""

    def __init__(
        self, settings: Settings, store: SubmissionStore, dispatcher: Dispatcher, waiters: Waiters
    ) -> None:
        self._settings = settings
        self._store = store
        self._dispatcher = dispatcher
        self._waiters = waiters

    async def submit(
        self, requests: Sequence[SubmissionRequest], *, request_id: str | None, notify: bool
    ) -> list[Submission]:
        created = await self._store.create(requests, request_id)
        await self._dispatcher.dispatch_new(created, notify=notify, request_id=request_id)
        return created

    async def wait(self, submission: Submission) -> Submission:
        """The submission once it has ended, or as it stands when waiting longer makes no sense:
        the queue's patience (apiTimeout) plus the longest its runs can take."""
        timeout_s = self._settings.api_timeout_s + submission_worst_case_s(
            self._settings, submission.request
        )
        ended = await self._waiters.wait(submission.token, self._store.get, timeout_s)
        return ended or submission
