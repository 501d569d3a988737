"""submissions.waiters: wait=true without a thread, woken by the broker or by polling."""

import asyncio
import time

from runakode.submissions.record import Judge0Status, Submission, SubmissionRequest
from runakode.submissions.waiters import Waiters

REQUEST = SubmissionRequest(source_code=b"x", language_id=71)


class Rows:
    def __init__(self) -> None:
        self.status = Judge0Status.IN_QUEUE
        self.reads = 0

    async def read(self, token: str) -> Submission | None:
        self.reads += 1
        return Submission(token, REQUEST, self.status, 0.0)


async def test_woken_by_the_finished_note() -> None:
    waiters, rows = Waiters(), Rows()
    waiting = asyncio.create_task(waiters.wait("t", rows.read, 30))
    await asyncio.sleep(0.01)
    rows.status = Judge0Status.ACCEPTED
    started = time.monotonic()
    waiters.finished("t")
    submission = await asyncio.wait_for(waiting, 2)
    assert submission is not None and submission.status == Judge0Status.ACCEPTED
    assert time.monotonic() - started < 0.5
    assert waiters._waiting == {}


async def test_a_lost_note_is_made_up_for_by_reading_again() -> None:
    waiters, rows = Waiters(), Rows()
    waiting = asyncio.create_task(waiters.wait("t", rows.read, 30))
    await asyncio.sleep(0.01)
    rows.status = Judge0Status.WRONG_ANSWER
    submission = await asyncio.wait_for(waiting, 3)
    assert submission is not None and submission.status == Judge0Status.WRONG_ANSWER


async def test_gives_up_with_the_submission_as_it_stands() -> None:
    waiters, rows = Waiters(), Rows()
    submission = await waiters.wait("t", rows.read, 0.05)
    assert submission is not None and submission.status == Judge0Status.IN_QUEUE
