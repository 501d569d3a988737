"""api/admitted.py: the routes' guards, which hold a run's place in the backlog and refuse the
runs that could not be answered in time; then every family's 503 with Retry-After through the
HTTP app and its WebSockets."""

import asyncio
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from runakode.admission import Admission
from runakode.api import create_app
from runakode.api.admitted import admitted_sessions, admitted_submit
from runakode.config import Settings
from runakode.errors import Overloaded, QueueFull, ResultTimeout
from runakode.models import Job, JobResult
from runakode.streaming import SessionEvent, SessionStarted, collect
from unit.api.piston.fakes import FakeOpener, FakeSession, Hang, chunk, run_script
from unit.fakes import ClientFor, FakeClock
from unit.helpers import refusals, run_one_by_one

with warnings.catch_warnings():
    # Starlette would rather its TestClient ran on httpx2; httpx works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

NATIVE = {"language": "python", "source_code": "print(1)"}
PISTON = {"language": "python", "version": "3.x", "files": [{"content": "print(1)"}]}


# --- the routes' guards -----------------------------------------------------------------------
# Three runs answered first: a fourth answer makes the rate known, anything else leaves it not.


async def test_submit_holds_its_place_until_answered(
    clock: FakeClock, make_job: Callable[..., Job], result_ok: JobResult
) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 3, 2.0)
    seen: list[int] = []

    async def submit(job: Job, timeout_s: float) -> JobResult:
        seen.append(admission.outstanding)
        clock.advance(2)
        return result_ok

    assert await admitted_submit(admission, submit)(make_job(), 15) == result_ok
    assert seen == [1]
    assert admission.outstanding == 0
    assert admission.rate() == pytest.approx(0.5)


async def test_a_submit_that_timed_out_is_no_answer(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 3, 1.0)

    async def submit(job: Job, timeout_s: float) -> JobResult:
        clock.advance(timeout_s)
        raise ResultTimeout("late")

    with pytest.raises(ResultTimeout):
        await admitted_submit(admission, submit)(make_job(), 15)
    assert admission.outstanding == 0
    assert admission.rate() is None


async def test_a_full_queue_says_when_to_retry(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    admission = Admission(1, clock=clock)

    async def submit(job: Job, timeout_s: float) -> JobResult:
        raise QueueFull("the job queue is full, try again later")

    before = refusals("queue_full")
    with pytest.raises(QueueFull) as full:
        await admitted_submit(admission, submit)(make_job(), 15)
    assert full.value.message == "the job queue is full, try again later"
    assert full.value.headers == {"Retry-After": "1"}
    assert refusals("queue_full") == before + 1
    assert admission.outstanding == 0


async def test_a_session_holds_its_place_until_it_ends(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 3, 4.0)
    opener = FakeOpener([SessionStarted(language="python")])
    session = await admitted_sessions(admission, opener, 15)(make_job())
    assert admission.outstanding == 1
    clock.advance(4)
    events = await collect(session)
    assert [type(event) for event in events] == [SessionStarted]
    assert opener.sessions[0].closed
    assert admission.outstanding == 0
    assert admission.rate() == pytest.approx(0.25)


async def test_a_session_closed_before_a_worker_took_it_is_no_answer(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 3, 1.0)
    session = await admitted_sessions(admission, FakeOpener([Hang()]), 15)(make_job())
    clock.advance(1)
    await session.close()
    assert admission.outstanding == 0
    assert admission.rate() is None


async def test_a_session_whose_worker_went_silent_is_no_answer(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    class Silent(FakeSession):
        async def events(self) -> AsyncIterator[SessionEvent]:
            yield SessionStarted(language="python")
            raise ResultTimeout("the worker running it went silent")

    async def open_silent(job: Job) -> Silent:
        return Silent([])

    admission = Admission(1, clock=clock)
    run_one_by_one(admission, clock, 3, 1.0)
    session = await admitted_sessions(admission, open_silent, 15)(make_job())
    with pytest.raises(ResultTimeout):
        await collect(session)
    assert admission.outstanding == 0
    assert admission.rate() is None


async def test_a_live_session_is_no_measure_of_a_run(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    admission = Admission(1, clock=clock)
    opener = FakeOpener([SessionStarted(language="python")])
    live_job = make_job().model_copy(update={"interactive": True})
    session = await admitted_sessions(admission, opener, 15)(live_job)
    clock.advance(30)
    await collect(session)
    for _ in range(6):  # 0.8 * 15 s still holds six waves of 2 s
        admission.admit(15)
    with pytest.raises(Overloaded):
        admission.admit(15)


async def test_a_refused_session_is_never_opened(
    clock: FakeClock, make_job: Callable[..., Job]
) -> None:
    admission = Admission(1, clock=clock)
    opener = FakeOpener([Hang()])
    open_admitted = admitted_sessions(admission, opener, 2)
    await open_admitted(make_job())
    with pytest.raises(Overloaded):
        await open_admitted(make_job())
    assert len(opener.jobs) == 1


# --- through the HTTP app: every family's 503 ------------------------------------------------


class HeldSubmit:
    """Holds every run until released; counts the runs that reached it."""

    def __init__(self, result: JobResult) -> None:
        self.result = result
        self.calls = 0
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, job: Job, timeout_s: float) -> JobResult:
        self.calls += 1
        self.reached.set()
        await self.release.wait()
        return self.result


class HeldOpener(FakeOpener):
    """Holds every session's opening until released."""

    def __init__(self) -> None:
        super().__init__(run_script([chunk("hi\n")]))
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, job: Job) -> FakeSession:
        self.jobs.append(job)
        self.reached.set()
        await self.release.wait()
        session = FakeSession(list(self.script))
        self.sessions.append(session)
        return session


@pytest.fixture
def app_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        maxWorkers=1,
        # 0.8 * 2 s holds no wave of the 2 s runs assumed before any is measured: only the
        # run a free worker takes is admitted.
        apiTimeout="2s",
        supportedLanguages=["python"],
        rateLimit={"requestsPerSecond": 0, "burst": 0},
    )


async def python_version() -> dict[str, str | None]:
    return {"python": "Python 3.11.2"}


@pytest.mark.parametrize(
    ("path", "body", "error_key"),
    [("/api", NATIVE, "error"), ("/execute", {"language": "python", "code": "1"}, "error")],
)
async def test_native_routes_answer_503_with_retry_after(
    app_settings: Settings,
    client_for: ClientFor,
    result_ok: JobResult,
    path: str,
    body: dict[str, Any],
    error_key: str,
) -> None:
    submit = HeldSubmit(result_ok)
    client = client_for(create_app(app_settings, submit, []))
    first = asyncio.create_task(client.post(path, json=body))
    await submit.reached.wait()

    refused = await client.post(path, json=body)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert list(refused.json()) == [error_key]
    assert "busy" in refused.json()[error_key]
    assert submit.calls == 1
    submit.release.set()
    assert (await first).status_code == 200


async def test_piston_execute_answers_503_with_retry_after_in_its_shape(
    app_settings: Settings, client_for: ClientFor, result_ok: JobResult
) -> None:
    opener = HeldOpener()
    app = create_app(
        app_settings,
        HeldSubmit(result_ok),
        [],
        language_versions=python_version,
        open_session=opener,
    )
    client = client_for(app)
    first = asyncio.create_task(client.post("/api/v2/execute", json=PISTON))
    await opener.reached.wait()

    refused = await client.post("/api/v2/piston/execute", json=PISTON)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert list(refused.json()) == ["message"]
    assert len(opener.jobs) == 1
    opener.release.set()
    assert (await first).json()["run"]["stdout"] == "hi\n"


async def test_a_full_queue_has_retry_after_on_every_family(
    app_settings: Settings, client_for: ClientFor, result_ok: JobResult
) -> None:
    async def full(job: Job, timeout_s: float = 0) -> Any:
        raise QueueFull("the job queue is full, try again later")

    app = create_app(app_settings, full, [], language_versions=python_version, open_session=full)
    client = client_for(app)
    native = await client.post("/api", json=NATIVE)
    piston = await client.post("/api/v2/execute", json=PISTON)
    for response, key in ((native, "error"), (piston, "message")):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json() == {key: "the job queue is full, try again later"}


@pytest.fixture
def live_client(app_settings: Settings, result_ok: JobResult) -> Iterator[TestClient]:
    """Every session starts, then runs until its client leaves."""
    opener = FakeOpener([SessionStarted(language="python"), Hang()])
    app = create_app(
        app_settings,
        HeldSubmit(result_ok),
        [],
        language_versions=python_version,
        open_session=opener,
    )
    with TestClient(app) as client:
        yield client


def test_a_live_run_beyond_the_backlog_is_refused_try_again_later(
    live_client: TestClient,
) -> None:
    with live_client.websocket_connect("/api/ws") as running:
        running.send_json({"type": "run", **NATIVE})
        assert running.receive_json()["type"] == "started"
        with live_client.websocket_connect("/api/ws") as refused:
            refused.send_json({"type": "run", **NATIVE})
            frame = refused.receive_json()
            with pytest.raises(WebSocketDisconnect) as closed:
                refused.receive_json()
    assert frame["type"] == "error" and frame["code"] == "overloaded"
    assert "retry in 1 s" in frame["message"]
    assert closed.value.code == 1013


def test_a_piston_live_run_beyond_the_backlog_is_a_notified_error(
    live_client: TestClient,
) -> None:
    init = {"type": "init", **PISTON}
    with live_client.websocket_connect("/api/v2/connect") as running:
        running.send_json(init)
        assert running.receive_json()["type"] == "runtime"
        with live_client.websocket_connect("/api/v2/connect") as refused:
            refused.send_json(init)
            frame = refused.receive_json()
            with pytest.raises(WebSocketDisconnect) as closed:
                refused.receive_json()
    assert frame["type"] == "error" and "retry in 1 s" in frame["message"]
    assert closed.value.code == 4002
