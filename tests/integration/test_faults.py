"""Fault injection against the real thing: RabbitMQ, runakode-api / runakode-worker processes,
Docker + gVisor.

Every test builds its own processes on its own queue (service_config picks a fresh queue name and
a free worker port), and stops them by pid however it ends; its queues and any sandbox its
processes left behind are removed afterwards. Each test counts how every request it sent ended;
the counts are printed at the end of the module (run with -s to see them).

The broker outage test stops RabbitMQ for everybody (`rabbitmqctl stop_app`): the tests of this
module run one after another, and it always starts the broker again.
"""

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import httpx
import pytest
from harness import (
    RABBITMQ_URL,
    RUNSC_ROOT,
    ServiceProcess,
    dead_letters,
    docker_sandboxes_of,
    free_port,
    runsc_sandboxes_of,
    service_config,
)

T = TypeVar("T")
DOCKER_SOCKET = "/var/run/docker.sock"
ANSWERS = {200, 429, 503, 504}

# What each fault did to the requests it saw: test name -> outcome -> count.
REPORT: dict[str, dict[str, Any]] = {}
# Sandbox containers a test's processes still owned once they had all stopped (then removed).
SANDBOXES_LEFT: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def fault_report() -> Iterator[None]:
    yield
    print("\n==== fault injection: how each request ended ====")
    for name, outcomes in REPORT.items():
        print(f"{name}: {json.dumps(outcomes, sort_keys=True)}")
    print(f"sandboxes left behind per test: {json.dumps(SANDBOXES_LEFT)}")


def record(name: str, **outcomes: Any) -> None:
    REPORT[name] = outcomes


# ---------------------------------------------------------------------------------------------
# Requests


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def printer(token: str) -> str:
    return f"print({token!r})\n"


def sleeper(token: str, seconds: float) -> str:
    return f"import time\ntime.sleep({seconds})\nprint({token!r})\n"


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    body: dict[str, Any]
    elapsed_s: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def stdout(self) -> Any:
        return self.body.get("stdout")


def post(
    url: str,
    source: str,
    *,
    request_id: str | None = None,
    timeout_s: float = 60.0,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent_headers = dict(headers or {})
    if request_id is not None:
        sent_headers["X-Request-ID"] = request_id
    started = time.monotonic()
    try:
        response = httpx.post(
            f"{url}/api",
            json={"language": "python", "source_code": source},
            headers=sent_headers,
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        return Answer(0, {"error": repr(exc)}, time.monotonic() - started)
    elapsed = time.monotonic() - started
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return Answer(response.status_code, body, elapsed, dict(response.headers))


def health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(f"{url}/health", timeout=3)
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}
    return response.status_code, response.json()


def wait_until(check: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def statuses(answers: list[Answer]) -> dict[str, int]:
    return {str(code): count for code, count in sorted(Counter(a.status for a in answers).items())}


# ---------------------------------------------------------------------------------------------
# Logs


def log_entries(service: ServiceProcess) -> list[dict[str, Any]]:
    entries = []
    for line in service.logs().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def non_json_lines(service: ServiceProcess) -> list[str]:
    bad = []
    for line in service.logs().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(entry, dict):
            bad.append(line)
    return bad


def count_logged(service: ServiceProcess, msg: str, request_id: str | None = None) -> int:
    return sum(
        1
        for entry in log_entries(service)
        if entry.get("msg") == msg and (request_id is None or entry.get("request_id") == request_id)
    )


def starts(service: ServiceProcess, request_id: str | None = None) -> int:
    return count_logged(service, "job started", request_id)


def finishes(service: ServiceProcess, request_id: str | None = None) -> int:
    return count_logged(service, "job finished", request_id)


# ---------------------------------------------------------------------------------------------
# RabbitMQ


def amqp(action: Callable[[aio_pika.abc.AbstractChannel], Any]) -> Any:
    """Run one coroutine against a fresh connection of the test itself."""

    async def main() -> Any:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
        async with connection:
            return await action(await connection.channel())

    return asyncio.run(main())


def ready_messages(queue: str) -> int:
    async def count(channel: aio_pika.abc.AbstractChannel) -> int:
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)

    return int(amqp(count))


def rabbitmqctl_messages(queue: str) -> int:
    """Ready plus unacknowledged messages, as `rabbitmqctl list_queues name messages` says."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "messages"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for line in out.splitlines():
        name, _, messages = line.partition("\t")
        if name == queue:
            return int(messages)
    raise AssertionError(f"queue {queue} not listed by rabbitmqctl:\n{out}")


def delete_queues(*names: str) -> None:
    async def delete(channel: aio_pika.abc.AbstractChannel) -> None:
        for name in names:
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(name)

    with contextlib.suppress(OSError, aio_pika.exceptions.AMQPError, TimeoutError):
        amqp(delete)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], capture_output=True, check=True, timeout=120)


# ---------------------------------------------------------------------------------------------
# Processes


def remove_sandboxes_of(pids: set[int]) -> int:
    """Remove the sandboxes the given processes of this host still own, whichever backend
    started them; how many."""
    containers = [name for pid in pids for name in docker_sandboxes_of(pid)]
    if containers:
        subprocess.run(["docker", "rm", "-f", *containers], capture_output=True, timeout=120)
    runsc = [sandbox_id for pid in pids for sandbox_id in runsc_sandboxes_of(pid)]
    for sandbox_id in runsc:
        subprocess.run(
            ["runsc", "--root", str(RUNSC_ROOT), "delete", "--force", sandbox_id],
            capture_output=True,
            timeout=60,
        )
    return len(containers) + len(runsc)


class Cluster:
    """The processes of one test, on the test's own queue; close() stops them all by pid."""

    def __init__(self, workdir: Path, **overrides: Any) -> None:
        self.workdir = workdir
        self.config = service_config(port=free_port(), broker="rabbitmq", **overrides)
        self.queue: str = self.config["rabbitmq"]["queue"]
        self.processes: list[ServiceProcess] = []
        self.bad_exits: list[str] = []

    def start(self, program: str, config: dict[str, Any]) -> ServiceProcess:
        service = ServiceProcess(program, config, self.workdir)
        if program == "runakode-worker":
            service.port = int(config["workerPort"])  # its /health and /metrics
        self.processes.append(service)
        return service.start()

    def worker(self, **overrides: Any) -> ServiceProcess:
        return self.start(
            "runakode-worker", {**self.config, "workerPort": free_port(), **overrides}
        )

    def api(self, **overrides: Any) -> ServiceProcess:
        return self.start("runakode-api", {**self.config, **overrides})

    def close(self) -> None:
        """Stop what still runs (SIGTERM, SIGKILL after 30 s); clean up after the processes."""
        stopping = [s for s in self.processes if s.proc is not None and s.proc.poll() is None]
        for service in stopping:
            assert service.proc is not None
            service.proc.send_signal(signal.SIGTERM)
        for service in stopping:
            assert service.proc is not None
            try:
                code = service.proc.wait(30)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                code = service.proc.wait()
            if code != 0:
                self.bad_exits.append(f"{service.program} ({service.log_path.name}): {code}")
        left = remove_sandboxes_of({s.proc.pid for s in self.processes if s.proc is not None})
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
        SANDBOXES_LEFT[test] = left
        delete_queues(self.queue, f"{self.queue}.dead", f"{self.queue}.languages")

    def all_logs(self) -> str:
        return "\n".join(service.logs() for service in self.processes)


@contextlib.contextmanager
def cluster(workdir: Path, **overrides: Any) -> Iterator[Cluster]:
    processes = Cluster(workdir, **overrides)
    try:
        yield processes
    finally:
        processes.close()
    # Whatever the fault, every process still running at the end stopped cleanly on SIGTERM and
    # wrote one JSON object a line.
    assert processes.bad_exits == []
    for service in processes.processes:
        assert non_json_lines(service) == [], f"{service.program} wrote non-JSON log lines"


def wait_all_healthy(*services: ServiceProcess) -> None:
    for service in services:
        service.wait_healthy()


@contextlib.contextmanager
def background(workers: int = 4) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# 1. A worker dies mid-job


def test_sigkill_mid_job_the_other_worker_answers(workdir: Path) -> None:
    with cluster(workdir, apiTimeout="30s", jobTimeout="15s") as c:
        workers = [c.worker(), c.worker()]
        api = c.api()
        wait_all_healthy(*workers, api)
        token, request_id = unique("kill9"), unique("kill9-req")
        with background() as pool:
            pending = pool.submit(
                post, api.url, sleeper(token, 2), request_id=request_id, timeout_s=40
            )
            victim = wait_until(
                lambda: next((w for w in workers if starts(w, request_id)), None),
                15,
                "a worker to start the job",
            )
            assert victim.proc is not None
            victim.proc.send_signal(signal.SIGKILL)
            assert victim.proc.wait(10) == -signal.SIGKILL
            answer = pending.result(timeout=60)
        survivor = next(w for w in workers if w is not victim)
        record(
            "1 sigkill mid-job",
            sent=1,
            statuses=statuses([answer]),
            seconds=round(answer.elapsed_s, 2),
            started_on_victim=starts(victim, request_id),
            started_on_survivor=starts(survivor, request_id),
        )
        assert answer.status == 200, answer
        assert answer.stdout == f"{token}\n"
        assert answer.elapsed_s < 30, "the answer must come within apiTimeout"
        assert finishes(victim, request_id) == 0, "the victim was killed mid-job"
        assert starts(survivor, request_id) == 1
        survivor.assert_running()


# ---------------------------------------------------------------------------------------------
# 2. Graceful stop


STOP_SIGNALS = pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)


@STOP_SIGNALS
def test_stopped_worker_finishes_its_job_and_takes_no_new_one(
    workdir: Path, stop_signal: signal.Signals
) -> None:
    with cluster(workdir, apiTimeout="40s", jobTimeout="15s", shutdownGrace="20s") as c:
        stopping = c.worker()
        api = c.api()
        wait_all_healthy(stopping, api)
        assert stopping.proc is not None
        running_token, running_id = unique("running"), unique("running-req")
        late_token, late_id = unique("late"), unique("late-req")
        with background() as pool:
            running = pool.submit(
                post, api.url, sleeper(running_token, 3), request_id=running_id, timeout_s=60
            )
            wait_until(lambda: starts(stopping, running_id), 15, "the job to start")
            stopping.proc.send_signal(stop_signal)
            late = pool.submit(post, api.url, printer(late_token), request_id=late_id, timeout_s=60)
            running_answer = running.result(timeout=60)
            exit_code = stopping.proc.wait(30)
            assert not late.done(), f"nobody should have answered yet: {late.result()}"
            assert starts(stopping, late_id) == 0, "a stopping worker took a new job"
            successor = c.worker()
            late_answer = late.result(timeout=60)
        record(
            f"2a {stop_signal.name} worker, grace long enough",
            sent=2,
            running_job=statuses([running_answer]),
            job_sent_after_sigterm=statuses([late_answer]),
            worker_exit_code=exit_code,
        )
        assert running_answer.status == 200, running_answer
        assert running_answer.stdout == f"{running_token}\n"
        assert exit_code == 0, stopping.logs()
        assert late_answer.status == 200, late_answer
        assert late_answer.stdout == f"{late_token}\n"
        assert starts(successor, late_id) == 1


def test_sigterm_worker_past_its_grace_requeues_the_job(workdir: Path) -> None:
    with cluster(workdir, apiTimeout="40s", jobTimeout="20s") as c:
        stopping = c.worker(shutdownGrace="1s")
        api = c.api()
        wait_all_healthy(stopping, api)
        assert stopping.proc is not None
        token, request_id = unique("requeued"), unique("requeued-req")
        with background() as pool:
            pending = pool.submit(
                post, api.url, sleeper(token, 5), request_id=request_id, timeout_s=60
            )
            wait_until(lambda: starts(stopping, request_id), 15, "the job to start")
            signalled = time.monotonic()
            stopping.proc.send_signal(signal.SIGTERM)
            exit_code = stopping.proc.wait(30)
            stop_s = time.monotonic() - signalled
            successor = c.worker()
            answer = pending.result(timeout=60)
        record(
            "2b sigterm worker, grace shorter than the job",
            sent=1,
            statuses=statuses([answer]),
            worker_exit_code=exit_code,
            worker_stop_seconds=round(stop_s, 2),
        )
        assert exit_code == 0, stopping.logs()
        assert stop_s < 10
        assert count_logged(stopping, "grace period over, abandoning running jobs") == 1
        assert finishes(stopping, request_id) == 0
        assert count_logged(stopping, "job abandoned", request_id) == 1
        assert answer.status == 200, answer
        assert answer.stdout == f"{token}\n"
        assert starts(successor, request_id) == 1


@STOP_SIGNALS
def test_stopped_combined_process_answers_in_flight_request_then_exits(
    workdir: Path, stop_signal: signal.Signals
) -> None:
    with cluster(workdir) as c:
        config = service_config(
            port=free_port(), apiTimeout="30s", jobTimeout="15s", shutdownGrace="20s"
        )
        service = c.start("runakode", config)
        service.wait_healthy()
        assert service.proc is not None
        proc = service.proc
        token, request_id = unique("combined"), unique("combined-req")

        def call() -> tuple[Answer, bool]:
            answer = post(service.url, sleeper(token, 3), request_id=request_id, timeout_s=60)
            return answer, proc.poll() is None

        with background() as pool:
            pending = pool.submit(call)
            wait_until(lambda: starts(service, request_id), 15, "the job to start")
            proc.send_signal(stop_signal)
            answer, alive_when_answered = pending.result(timeout=60)
            exit_code = proc.wait(30)
        record(
            f"2c {stop_signal.name} combined process",
            sent=1,
            statuses=statuses([answer]),
            exit_code=exit_code,
            answered_before_exit=alive_when_answered,
        )
        assert answer.status == 200, answer
        assert answer.stdout == f"{token}\n"
        assert alive_when_answered
        assert exit_code == 0, service.logs()


# ---------------------------------------------------------------------------------------------
# 3. The API gives up


def test_api_timeout_504_and_the_job_never_runs_later(workdir: Path) -> None:
    with cluster(workdir, apiTimeout="2s", jobTimeout="10s") as c:
        api = c.api()
        api.wait_healthy()
        token, request_id = unique("abandoned"), unique("abandoned-req")
        abandoned = post(api.url, printer(token), request_id=request_id, timeout_s=20)
        assert abandoned.status == 504, abandoned
        assert 1.5 <= abandoned.elapsed_s < 5
        assert abandoned.headers.get("x-request-id") == request_id

        worker = c.worker()
        worker.wait_healthy()
        time.sleep(4)
        assert starts(worker, request_id) == 0
        assert starts(worker) == 0
        assert rabbitmqctl_messages(c.queue) == 0
        set_aside = rabbitmqctl_messages(f"{c.queue}.dead")

        # A result that comes back after its request ended goes to nobody: the job runs 2.6 s,
        # the API gives up at 2 s, and the requests that follow each get their own output.
        late_token, late_id = unique("late"), unique("late-req")
        late = post(api.url, sleeper(late_token, 2.6), request_id=late_id, timeout_s=20)
        followers = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline or not finishes(worker, late_id):
            follower_token = unique("follower")
            answer = post(api.url, printer(follower_token), timeout_s=20)
            followers.append(answer)
            assert answer.status == 200, answer
            assert answer.stdout == f"{follower_token}\n"
            assert len(followers) < 40
        record(
            "3 api timeout",
            sent=2 + len(followers),
            abandoned_job=statuses([abandoned]),
            slow_job=statuses([late]),
            requests_after_the_slow_job=statuses(followers),
            abandoned_job_started_later=starts(worker, request_id),
            expired_jobs_in_dead_letter_queue=set_aside,
        )
        assert late.status == 504, late
        assert finishes(worker, late_id) == 1
        # Its result was published as usual (no warning about it), and reached nobody.
        late_lines = [e for e in log_entries(worker) if e.get("request_id") == late_id]
        assert [e["msg"] for e in late_lines if e["level"] != "info"] == []
        assert late_token not in json.dumps([f.body for f in followers])


# ---------------------------------------------------------------------------------------------
# 4. Broker outage


def test_broker_outage_503_then_everything_recovers_without_restart(workdir: Path) -> None:
    with cluster(workdir, apiTimeout="45s", jobTimeout="20s") as c:
        worker = c.worker()
        api = c.api()
        wait_all_healthy(worker, api)
        assert api.proc is not None and worker.proc is not None
        pids = (api.proc.pid, worker.proc.pid)
        assert post(api.url, printer("hello world")).status == 200
        token, request_id = unique("inflight"), unique("inflight-req")
        during: list[Answer] = []
        recovering: list[Answer] = []
        with background() as pool:
            in_flight = pool.submit(
                post, api.url, sleeper(token, 4), request_id=request_id, timeout_s=90
            )
            wait_until(lambda: starts(worker, request_id), 15, "the job to start")
            try:
                rabbitmqctl("stop_app")
                stopped = time.monotonic()
                api_health = wait_until(
                    lambda: (h := health(api.url))[0] == 503 and h, 10, "API /health degraded"
                )
                worker_health = wait_until(
                    lambda: (h := health(worker.url))[0] == 503 and h, 10, "worker /health degraded"
                )
                # Keep the broker down for a while: every request meanwhile is refused at once.
                while time.monotonic() - stopped < 6 or len(during) < 5:
                    during.append(post(api.url, printer(unique("outage")), timeout_s=20))
                    assert len(during) < 30
                    time.sleep(0.5)
            finally:
                rabbitmqctl("start_app")
                restarted = time.monotonic()
            outage_s = restarted - stopped
            hello = ""
            while time.monotonic() - restarted < 30:
                answer = post(api.url, printer("hello world"), timeout_s=20)
                recovering.append(answer)
                if answer.status == 200:
                    hello = answer.stdout
                    break
                time.sleep(1)
            recovered_s = time.monotonic() - restarted
            wait_until(lambda: health(worker.url)[0] == 200, 30, "worker /health ok again")
            wait_until(lambda: health(api.url)[0] == 200, 30, "API /health ok again")
            in_flight_answer = in_flight.result(timeout=90)
            redelivered = wait_until(
                lambda: starts(worker, request_id) >= 2, 30, "the in-flight job delivered again"
            )
        record(
            "4 broker outage",
            sent=2 + len(during) + len(recovering),
            during_outage=statuses(during),
            slowest_503_s=round(max(a.elapsed_s for a in during), 2),
            outage_seconds=round(outage_s, 1),
            after_start_app_until_200=statuses(recovering),
            seconds_to_first_200=round(recovered_s, 1),
            job_in_flight=statuses([in_flight_answer]),
            job_in_flight_seconds=round(in_flight_answer.elapsed_s, 1),
            job_in_flight_started=starts(worker, request_id),
            job_in_flight_finished=finishes(worker, request_id),
            job_in_flight_abandoned=count_logged(worker, "job abandoned", request_id),
        )
        assert api_health[1]["status"] == "degraded" and "broker" in api_health[1]["reason"]
        assert worker_health[1]["status"] == "degraded"
        assert "broker" in worker_health[1]["reason"]
        assert [a.status for a in during] == [503] * len(during), during
        assert all(a.elapsed_s < 2.5 for a in during), [a.elapsed_s for a in during]
        assert hello == "hello world\n", recovering
        assert recovered_s < 30
        assert redelivered
        assert in_flight_answer.status in {200, 503, 504}, in_flight_answer
        if in_flight_answer.status == 200:
            assert in_flight_answer.stdout == f"{token}\n"
        assert (api.proc.pid, worker.proc.pid) == pids
        api.assert_running()
        worker.assert_running()


# ---------------------------------------------------------------------------------------------
# 5. Poison messages


def test_poison_messages_are_set_aside_and_the_worker_keeps_serving(workdir: Path) -> None:
    with cluster(workdir) as c:
        worker = c.worker()
        api = c.api()
        wait_all_healthy(worker, api)
        replies = f"{c.queue}.test-replies"
        missing = f"{c.queue}.missing-{uuid.uuid4().hex}"

        def job(language: str) -> bytes:
            return json.dumps(
                {
                    "id": uuid.uuid4().hex,
                    "language": language,
                    "source_code": "print(1)",
                    "submitted_at": time.time(),
                    "request_id": unique("poison"),
                }
            ).encode()

        poison = [
            (b"this is { not json", replies),
            (json.dumps({"id": "x", "lang": "python", "code": 1}).encode(), replies),
            (job("cobol"), replies),
        ]
        # Not poison: it runs, and its result is dropped (nobody waits for it any more).
        orphan = job("python")

        async def publish(channel: aio_pika.abc.AbstractChannel) -> None:
            await channel.declare_queue(replies, auto_delete=False)
            for body, reply_to in [*poison, (orphan, missing)]:
                message = aio_pika.Message(
                    body=body, reply_to=reply_to, correlation_id=uuid.uuid4().hex
                )
                await channel.default_exchange.publish(message, routing_key=c.queue)

        try:
            amqp(publish)
            dead = asyncio.run(dead_letters(c.queue, len(poison), timeout_s=30))
            stray_replies = ready_messages(replies)
        finally:
            delete_queues(replies)
        worker.assert_running()
        after = post(api.url, printer("still serving"))
        record(
            "3 poison messages and one whose asker is gone",
            published=len(poison),
            dead_lettered=len(dead),
            replies_to_poison=stray_replies,
            normal_job_after=statuses([after]),
        )
        assert sorted(dead) == sorted(body for body, _ in poison)
        # The one that parsed but names a language no worker serves is also answered at once.
        assert stray_replies == 1
        assert sum("set aside a poison job" in e["msg"] for e in log_entries(worker)) == 3
        assert sum("dropped a result" in e["msg"] for e in log_entries(worker)) == 1
        assert after.status == 200, after
        assert after.stdout == "still serving\n"
        worker.assert_running()


# ---------------------------------------------------------------------------------------------
# 6. Backpressure


def test_full_queue_answers_503_at_once_and_the_rest_complete(workdir: Path) -> None:
    with cluster(workdir, apiTimeout="60s", queueMaxLength=3) as c:
        api = c.api()
        api.wait_healthy()
        tokens = [unique(f"queued{n}") for n in range(8)]
        with background(8) as pool:
            pending = [pool.submit(post, api.url, printer(token), timeout_s=90) for token in tokens]
            wait_until(lambda: sum(f.done() for f in pending) >= 5, 10, "five refusals")
            time.sleep(1)
            refused = [f.result() for f in pending if f.done()]
            waiting = sum(not f.done() for f in pending)
            queued = ready_messages(c.queue)
            c.worker()
            answers = [f.result(timeout=90) for f in pending]
        record(
            "6 full queue (queueMaxLength 3, 8 requests, no worker at first)",
            sent=len(tokens),
            answered_before_a_worker_ran=statuses(refused),
            slowest_503_s=round(max(a.elapsed_s for a in refused), 2),
            all=statuses(answers),
        )
        assert len(refused) >= 5
        assert all(a.status == 503 and a.elapsed_s < 2 for a in refused), refused
        assert waiting == len(tokens) - len(refused)
        assert queued == waiting == 3
        for token, answer in zip(tokens, answers, strict=True):
            if answer.status != 503:
                assert answer.status == 200, answer
                assert answer.stdout == f"{token}\n"
        assert Counter(a.status for a in answers) == {503: 5, 200: 3}


# ---------------------------------------------------------------------------------------------
# 7. No cross-talk under load


def test_burst_every_answer_carries_its_own_output(workdir: Path) -> None:
    requests = 64
    with cluster(workdir, apiTimeout="120s", maxWorkers=2) as c:
        workers = [c.worker(), c.worker()]
        api = c.api()
        wait_all_healthy(*workers, api)
        tokens = [f"{n}:{uuid.uuid4().hex}" for n in range(requests)]

        async def burst() -> list[Answer]:
            limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
            async with httpx.AsyncClient(timeout=180, limits=limits) as client:

                async def one(token: str) -> Answer:
                    started = time.monotonic()
                    try:
                        response = await client.post(
                            f"{api.url}/api",
                            json={"language": "python", "source_code": printer(token)},
                        )
                    except httpx.HTTPError as exc:
                        return Answer(0, {"error": repr(exc)}, time.monotonic() - started)
                    return Answer(response.status_code, response.json(), time.monotonic() - started)

                return list(await asyncio.gather(*(one(token) for token in tokens)))

        started = time.monotonic()
        answers = asyncio.run(burst())
        burst_s = time.monotonic() - started
        record(
            "7 burst through one API, two workers",
            sent=requests,
            statuses=statuses(answers),
            seconds=round(burst_s, 1),
            jobs_per_worker=[starts(w) for w in workers],
        )
        assert {a.status for a in answers} <= ANSWERS, statuses(answers)
        for token, answer in zip(tokens, answers, strict=True):
            if answer.status == 200:
                assert answer.stdout == f"{token}\n", (token, answer)
        assert any(a.status == 200 for a in answers)


# ---------------------------------------------------------------------------------------------
# 8. The sandbox engine stops answering


class UnixSocketProxy:
    """Forwards a unix socket of the test to Docker's, so that the test can cut the line (stop)
    or make the engine hang (hang: connections are taken but never answered)."""

    def __init__(self, path: str, target: str = DOCKER_SOCKET) -> None:
        self.path = path
        self.target = target
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._hanging = False

    def hang(self) -> None:
        """Drop the open connections; take new ones but never answer them."""
        self._hanging = True
        self._close_connections()

    def resume(self) -> None:
        """Forward again; the connections left hanging are dropped."""
        self._hanging = False
        self._close_connections()

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Close the listener and every connection, and remove the socket file."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        self._close_connections()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _close_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._hanging:
                with self._lock:
                    self._sockets.add(client)
                continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                upstream.close()
                continue
            with self._lock:
                if listener is not self._listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        # Pass the half-close on: a sandbox reads its program from stdin up to EOF.
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize("fault", ["refused", "hung"])
def test_docker_trouble_internal_error_degraded_then_recovery(workdir: Path, fault: str) -> None:
    proxy = UnixSocketProxy(str(workdir / f"docker-{uuid.uuid4().hex[:8]}.sock"))
    proxy.start()
    try:
        with cluster(workdir, apiTimeout="40s") as c:
            worker = c.worker(sandboxBackend="docker", dockerSocket=proxy.path)
            api = c.api()
            wait_all_healthy(worker, api)
            before = post(api.url, printer("through the proxy"))
            assert before.status == 200 and before.body["status"] == "ok", before

            if fault == "refused":
                proxy.stop()
            else:
                proxy.hang()
            cut = time.monotonic()
            with background() as pool:
                pending = pool.submit(post, api.url, printer(unique("no-engine")), timeout_s=60)
                degraded = wait_until(
                    lambda: (h := health(worker.url))[0] == 503 and h, 10, "/health degraded"
                )
                degraded_s = time.monotonic() - cut
                during = pending.result(timeout=60)

            if fault == "refused":
                proxy.start()
            else:
                proxy.resume()
            back = time.monotonic()
            wait_until(lambda: health(worker.url)[0] == 200, 20, "worker /health ok again")
            healthy_s = time.monotonic() - back
            after_token = unique("engine-back")
            after = post(api.url, printer(after_token))
            record(
                f"8 docker engine {fault}",
                sent=3,
                before=f"{before.status} {before.body.get('status')}",
                engine_gone=f"{during.status} {during.body.get('status')}",
                engine_gone_seconds=round(during.elapsed_s, 2),
                degraded_after_s=round(degraded_s, 1),
                healthy_again_after_s=round(healthy_s, 1),
                engine_back=f"{after.status} {after.body.get('status')}",
            )
            assert during.status == 200, during
            assert during.body["status"] == "internal_error", during
            # Refused: at once. Hung: bounded by the worker's Docker API timeout (15 s).
            assert during.elapsed_s < (5 if fault == "refused" else 35)
            assert degraded[1]["status"] == "degraded", degraded
            assert degraded_s < 6
            assert after.status == 200, after
            assert after.body["status"] == "ok", after
            assert after.stdout == f"{after_token}\n"
            worker.assert_running()
    finally:
        proxy.stop()


# ---------------------------------------------------------------------------------------------
# 9. Metrics and logs


def metric_families(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def raw_post(url: str, request_id: bytes, source: str) -> tuple[int, dict[str, str]]:
    """POST /api with an X-Request-ID header of exactly these bytes; the status and headers."""
    body = json.dumps({"language": "python", "source_code": source}).encode()
    request = (
        b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + b"X-Request-ID: "
        + request_id
        + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body
    )
    port = httpx.URL(url).port
    assert port is not None
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(head[0].split()[1]), headers


def test_metrics_and_structured_logs_with_request_ids(workdir: Path) -> None:
    marker = f"SOURCE-MARKER-{uuid.uuid4().hex}"
    with cluster(workdir) as c:
        worker = c.worker()
        api = c.api()
        wait_all_healthy(worker, api)
        request_id = unique("client-supplied")
        answer = post(api.url, f"secret = {marker!r}\nprint(len(secret))\n", request_id=request_id)
        assert answer.status == 200, answer
        assert answer.stdout == f"{len(marker)}\n"
        assert answer.headers.get("x-request-id") == request_id

        # Sent as raw bytes: a client library would refuse most of these.
        fingerprints = [uuid.uuid4().hex for _ in range(5)]
        invalid_ids = [
            f"has spaces {fingerprints[0]}".encode(),
            f'quote"and{{braces}}{fingerprints[1]}'.encode(),
            f"tab\there{fingerprints[2]}".encode(),
            f"caf\xe9-{fingerprints[3]}".encode("latin-1"),
            b"x" * 200,
        ]
        fingerprints.append("x" * 200)
        replaced = []
        for invalid in invalid_ids:
            status, headers = raw_post(api.url, invalid, printer("ok"))
            assert status == 200, (invalid, status)
            replaced.append(headers.get("x-request-id", ""))
        # A newline inside a value (obsolete line folding) is refused by the HTTP parser, as
        # RFC 9112 allows: nothing of it reaches a log or a job.
        folded = f"line-one-{fingerprints[4]}\r\n line-two".encode()
        status, _ = raw_post(api.url, folded, printer("ok"))
        assert status == 400, status

        api_metrics = httpx.get(f"{api.url}/metrics", timeout=5)
        worker_metrics = httpx.get(f"{worker.url}/metrics", timeout=5)
        ok_jobs = 'runakode_jobs_total{language="python",status="ok"}'
        record(
            "9 metrics and logs",
            sent=1 + len(invalid_ids),
            invalid_request_ids_replaced=sum(
                bool(re.fullmatch(r"[0-9a-f]{32}", given)) for given in replaced
            ),
            worker_python_ok_jobs=sample(worker_metrics.text, ok_jobs),
            api_python_ok_jobs=sample(api_metrics.text, ok_jobs),
            api_sandbox_engine_up=sample(api_metrics.text, "runakode_sandbox_engine_up"),
        )
        wanted = {
            "runakode_jobs_total",
            "runakode_job_queue_wait_seconds",
            "runakode_job_run_seconds",
            "runakode_jobs_in_flight",
            "runakode_broker_up",
            "runakode_sandbox_engine_up",
        }
        for response in (api_metrics, worker_metrics):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            assert wanted <= metric_families(response.text)
            assert ok_jobs in response.text
            assert sample(response.text, "runakode_broker_up") == 1
            assert sample(response.text, "runakode_jobs_in_flight") == 0
        worker_text = worker_metrics.text
        assert (sample(worker_text, ok_jobs) or 0) >= 1 + len(invalid_ids)
        assert (sample(worker_text, "runakode_job_queue_wait_seconds_count") or 0) >= 1
        assert (sample(worker_text, 'runakode_job_run_seconds_count{language="python"}') or 0) >= 1
        assert sample(worker_text, "runakode_sandbox_engine_up") == 1

        api_ids = {e.get("request_id") for e in log_entries(api)}
        worker_ids = {e.get("request_id") for e in log_entries(worker)}
        assert request_id in api_ids
        assert request_id in worker_ids
        for given in replaced:
            assert re.fullmatch(r"[0-9a-f]{32}", given), given
            assert given in api_ids and given in worker_ids
    logs = c.all_logs()
    assert marker not in logs
    for fingerprint in fingerprints:
        assert fingerprint not in logs
    for service in c.processes:
        assert non_json_lines(service) == []
        assert log_entries(service), f"{service.program} logged nothing"
