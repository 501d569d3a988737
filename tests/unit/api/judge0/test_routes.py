"""The Judge0 routes in process: a real SQLite store, the memory broker, a worker with a fake
sandbox. What needs real sandboxes and processes is in tests/integration/test_judge0_*."""

import base64
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runakode.api import StoredSubmissions, create_app
from runakode.brokers.memory import MemoryBroker
from runakode.config import Settings
from runakode.models import Status
from runakode.sandboxes import PhaseResult, SandboxResult
from runakode.submissions.callbacks import CallbackSender
from runakode.submissions.dispatch import Dispatcher
from runakode.submissions.intake import Intake
from runakode.submissions.runner import SubmissionRunner
from runakode.submissions.store import SubmissionStore
from runakode.submissions.waiters import Waiters
from runakode.worker import Worker
from unit.fakes import FakeSandbox, FakeSubmit, ok_sandbox_result

PYTHON = 71


@dataclass
class Judge0:
    client: httpx.AsyncClient
    sandbox: FakeSandbox
    store: SubmissionStore
    broker: MemoryBroker


@pytest.fixture
async def make_judge0(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    result_ok: Any,
) -> AsyncIterator[Callable[..., Any]]:
    opened: list[tuple[Worker, MemoryBroker, SubmissionStore]] = []

    async def make(**overrides: Any) -> Judge0:
        values: dict[str, Any] = {
            "supportedLanguages": ["python", "c"],
            "rateLimit": {"requestsPerSecond": 0, "burst": 0},
            "store": {"url": f"sqlite:///{tmp_path}/{len(opened)}.db"},
        }
        values.update(overrides)
        settings = make_settings(**values)
        store = await SubmissionStore.open(settings.store.url)
        broker = MemoryBroker(max_length=100)
        waiters = Waiters()
        await broker.serve_replies(waiters.finished)
        sandbox = FakeSandbox(ok_sandbox_result())
        runner = SubmissionRunner(settings, store, CallbackSender(settings.callbacks), "me")
        worker = Worker(settings, broker, sandbox, runner)
        await worker.start()
        intake = Intake(settings, store, Dispatcher(broker, store, "me"), waiters)
        app = create_app(
            settings,
            FakeSubmit(result_ok),
            [],
            submissions=StoredSubmissions(store, intake),
        )
        opened.append((worker, broker, store))
        return Judge0(client_for(app), sandbox, store, broker)

    yield make
    for worker, broker, store in opened:
        await worker.stop(grace_s=1)
        await broker.close()
        await store.close()


@pytest.fixture
async def judge0(make_judge0: Callable[..., Any]) -> Judge0:
    service: Judge0 = await make_judge0()
    return service


async def finished(judge0: Judge0, token: str, query: str = "") -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = await judge0.client.get(f"/submissions/{token}?{query}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"]["id"] > 2:
            return body
    raise AssertionError(f"{token} did not finish")


async def test_create_then_poll_with_the_default_fields(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions", json={"source_code": "print('hello')", "language_id": PYTHON}
    )
    assert response.status_code == 201
    assert list(response.json()) == ["token"]
    body = await finished(judge0, response.json()["token"])
    assert list(body) == [
        "stdout",
        "time",
        "memory",
        "stderr",
        "token",
        "compile_output",
        "message",
        "status",
    ]
    assert body["stdout"] == "hello\n"
    assert body["status"] == {"id": 3, "description": "Accepted"}
    assert (body["time"], body["memory"], body["stderr"]) == ("0.005", 9000, None)
    [job] = judge0.sandbox.jobs
    # Judge0's file name for the language, and its limits enforced inside the sandbox.
    assert job.files[0].name == "script.py"
    assert job.run_argv == ("python3", "script.py")
    assert (job.limits.cpu_time_s, job.limits.memory_bytes) == (5.0, 128000 * 1024)


async def test_wait_answers_the_finished_submission(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions/?wait=true&fields=stdout,status_id,language",
        json={"source_code": "print(1)", "language_id": "71", "expected_output": "hello"},
    )
    assert response.status_code == 201
    assert response.json() == {
        "stdout": "hello\n",
        "status_id": 3,
        "language": {"id": 71, "name": "Python (3.8.1)"},
    }


async def test_base64_in_and_out(judge0: Judge0) -> None:
    judge0.sandbox.result = ok_sandbox_result(b"\xff\xfe binary\n")
    source = base64.b64encode(b"print(1)").decode()
    response = await judge0.client.post(
        "/submissions?base64_encoded=true&wait=true",
        json={"source_code": source, "language_id": 71},
    )
    assert response.status_code == 201
    assert base64.b64decode(response.json()["stdout"]) == b"\xff\xfe binary\n"
    token = response.json()["token"]
    # The same output without base64 is not UTF-8: Judge0's 400.
    plain = await judge0.client.get(f"/submissions/{token}")
    assert plain.status_code == 400
    assert "base64_encoded=true" in plain.json()["error"]
    assert judge0.sandbox.jobs[0].files[0].content == b"print(1)"


async def test_wrong_answer_and_runtime_errors(judge0: Judge0) -> None:
    run = PhaseResult(
        stdout=b"",
        stderr=b"boom\n",
        exit_code=139,
        signal=11,
        wall_time_ms=3,
        cpu_time_ms=1,
        memory_kb=100,
    )
    judge0.sandbox.result = SandboxResult(Status.RUNTIME_ERROR, None, run)
    response = await judge0.client.post(
        "/submissions?wait=true&fields=status,exit_code,exit_signal,message,stderr",
        json={"source_code": "x", "language_id": 71},
    )
    assert response.json() == {
        "stderr": "boom\n",
        "exit_code": 0,
        "exit_signal": 11,
        "message": "Caught fatal signal 11",
        "status": {"id": 7, "description": "Runtime Error (SIGSEGV)"},
    }
    judge0.sandbox.result = ok_sandbox_result(b"no\n")
    response = await judge0.client.post(
        "/submissions?wait=true&fields=status",
        json={"source_code": "x", "language_id": 71, "expected_output": "yes"},
    )
    assert response.json() == {"status": {"id": 4, "description": "Wrong Answer"}}


async def test_number_of_runs_each_in_a_fresh_sandbox(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions?wait=true&fields=status,time",
        json={
            "source_code": "x",
            "language_id": 71,
            "number_of_runs": 3,
            "expected_output": "hello",
        },
    )
    assert response.json()["status"]["id"] == 3
    assert len(judge0.sandbox.jobs) == 3
    assert len({job.job_id for job in judge0.sandbox.jobs}) == 3


async def test_number_of_runs_stops_at_the_first_that_is_not_accepted(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions?wait=true&fields=status",
        json={"source_code": "x", "language_id": 71, "number_of_runs": 3, "expected_output": "bye"},
    )
    assert response.json()["status"]["id"] == 4
    assert len(judge0.sandbox.jobs) == 1


async def test_validation_errors_are_judge0s_422(judge0: Judge0) -> None:
    response = await judge0.client.post("/submissions", json={"source_code": ""})
    assert response.status_code == 422
    assert response.json() == {
        "source_code": ["can't be blank"],
        "language_id": ["can't be blank", "language with id  doesn't exist"],
    }
    response = await judge0.client.post(
        "/submissions", json={"source_code": "x", "language_id": 71, "enable_network": True}
    )
    assert response.json() == {"enable_network": ["enabling network is not allowed"]}
    assert judge0.sandbox.jobs == []
    assert await judge0.store.count_waiting() == 0


async def test_batch_mixes_tokens_and_errors(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions/batch",
        json={
            "submissions": [
                {"source_code": "a", "language_id": 71},
                {"source_code": "b", "language_id": 123456789},
                {"language_id": 71},
            ]
        },
    )
    assert response.status_code == 201
    first, second, third = response.json()
    assert list(first) == ["token"]
    assert second == {"language_id": ["language with id 123456789 doesn't exist"]}
    assert third == {"source_code": ["can't be blank"]}
    await finished(judge0, first["token"])
    read = await judge0.client.get(
        f"/submissions/batch?tokens={first['token']},nope&fields=token,status_id"
    )
    assert read.json() == {"submissions": [{"token": first["token"], "status_id": 3}, None]}
    invalid = await judge0.client.post(
        "/submissions/batch", json={"submissions": [{"language_id": 71}]}
    )
    assert invalid.status_code == 422
    assert invalid.json() == [{"source_code": ["can't be blank"]}]


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (0, "there should be at least one submission in a batch"),
        (21, "number of submissions in a batch should be less than or equal to 20"),
    ],
)
async def test_batch_sizes(judge0: Judge0, count: int, message: str) -> None:
    items = [{"source_code": "a", "language_id": 71}] * count
    response = await judge0.client.post("/submissions/batch", json={"submissions": items})
    assert (response.status_code, response.json()) == (400, {"error": message})
    tokens = ",".join(["x"] * count)
    response = await judge0.client.get(f"/submissions/batch?tokens={tokens}")
    assert (response.status_code, response.json()) == (400, {"error": message})


async def test_fields_star_is_exactly_v1_13_1s_set(judge0: Judge0) -> None:
    token = (
        await judge0.client.post("/submissions", json={"source_code": "x", "language_id": 71})
    ).json()["token"]
    body = await finished(judge0, token, "fields=*")
    assert len(body) == 35
    assert {"queued_at", "started_at", "updated_at", "execution_host"}.isdisjoint(body)
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 24
    assert (body["cpu_time_limit"], body["wall_time_limit"]) == ("5.0", "10.0")
    bad = await judge0.client.get(f"/submissions/{token}?fields=stdout,foo,bar")
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid fields: [foo, bar]"})


async def test_unknown_token_and_language(judge0: Judge0) -> None:
    for path in ("/submissions/nope", "/languages/9999", "/languages/54"):
        response = await judge0.client.get(path)
        assert (response.status_code, response.json()) == (
            404,
            {"status": 404, "error": "Not Found"},
        )


async def test_malformed_json_is_rails_400(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, {"status": 400, "error": "Bad Request"})


async def test_form_encoded_submission(judge0: Judge0) -> None:
    response = await judge0.client.post(
        "/submissions?wait=true&fields=status_id", data={"source_code": "x", "language_id": "71"}
    )
    assert (response.status_code, response.json()) == (201, {"status_id": 3})


async def test_queue_full_is_503(make_judge0: Callable[..., Any]) -> None:
    service = await make_judge0(judge0={"maxQueueSize": 1})
    await service.broker.stop_consuming()
    ok = await service.client.post("/submissions", json={"source_code": "x", "language_id": 71})
    assert ok.status_code == 201
    full = await service.client.post("/submissions", json={"source_code": "x", "language_id": 71})
    assert (full.status_code, full.json()) == (503, {"error": "queue is full"})


async def test_listing_and_deleting_need_an_admin_key(make_judge0: Callable[..., Any]) -> None:
    service = await make_judge0(
        auth={"tokens": ["user-key"], "adminTokens": ["admin-key"]},
        judge0={"enableSubmissionDelete": True},
    )
    client = service.client
    assert (await client.get("/languages")).status_code == 401
    assert (await client.get("/languages")).content == b""
    user = {"X-Auth-Token": "user-key"}
    admin = {**user, "X-Auth-User": "admin-key"}
    assert (await client.get("/languages", headers=user)).status_code == 200
    assert (
        await client.get("/languages", headers={"Authorization": "Bearer user-key"})
    ).status_code == 200
    assert (await client.get("/languages?X-Auth-Token=user-key")).status_code == 200
    assert (await client.post("/authenticate", headers=user)).status_code == 200
    assert (await client.post("/authorize", headers=user)).status_code == 403
    assert (await client.post("/authorize", headers=admin)).status_code == 200
    assert (await client.get("/submissions", headers=user)).status_code == 403
    created = await client.post(
        "/submissions?wait=true", json={"source_code": "x", "language_id": 71}, headers=user
    )
    token = created.json()["token"]
    listing = await client.get("/submissions?per_page=1&fields=token", headers=admin)
    assert listing.json() == {
        "submissions": [{"token": token}],
        "meta": {
            "current_page": 1,
            "next_page": None,
            "prev_page": None,
            "total_pages": 1,
            "total_count": 1,
        },
    }
    assert (await client.get("/submissions?page=0", headers=admin)).json() == {
        "error": "invalid page: 0"
    }
    assert (await client.delete(f"/submissions/{token}", headers=user)).status_code == 403
    deleted = await client.delete(f"/submissions/{token}?fields=stdout", headers=admin)
    # Always base64, whatever was asked.
    assert deleted.json() == {"stdout": base64.b64encode(b"hello\n").decode()}
    assert (await client.get(f"/submissions/{token}", headers=user)).status_code == 404
    # /health stays open; so does the description of the API.
    assert (await client.get("/health")).status_code == 200


async def test_delete_is_off_by_default_and_refused_while_running(
    make_judge0: Callable[..., Any],
) -> None:
    service = await make_judge0(auth={"adminTokens": ["admin"]})
    admin = {"X-Auth-User": "admin"}
    off = await service.client.delete("/submissions/x", headers=admin)
    assert (off.status_code, off.json()) == (400, {"error": "delete not allowed"})
    service = await make_judge0(
        auth={"adminTokens": ["admin"]}, judge0={"enableSubmissionDelete": True}
    )
    await service.broker.stop_consuming()
    token = (
        await service.client.post("/submissions", json={"source_code": "x", "language_id": 71})
    ).json()["token"]
    busy = await service.client.delete(f"/submissions/{token}", headers=admin)
    assert busy.json() == {
        "error": "submission cannot be deleted because its status is 1 (In Queue)"
    }


async def test_info_routes(judge0: Judge0) -> None:
    client = judge0.client
    languages = (await client.get("/languages")).json()
    assert {"id": 71, "name": "Python (3.8.1)"} in languages
    assert [entry["name"] for entry in languages] == sorted(entry["name"] for entry in languages)
    assert all(
        entry["is_archived"] is False for entry in (await client.get("/languages/all")).json()
    )
    details = (await client.get("/languages/50")).json()
    assert details["source_file"] == "main.c" and "%s" in details["compile_cmd"]
    assert (await client.get("/languages/71")).json()["compile_cmd"] is None
    statuses = (await client.get("/statuses")).json()
    assert [s["id"] for s in statuses] == list(range(1, 15))
    about = (await client.get("/about")).json()
    assert about["version"] == "1.13.1" and all(isinstance(v, str) for v in about.values())
    version = await client.get("/version")
    assert (version.text, version.headers["content-type"].split(";")[0]) == ("1.13.1", "text/plain")
    assert (await client.get("/isolate")).text.startswith("runakode sandboxes: gVisor")
    config = (await client.get("/config_info")).json()
    assert config["allow_enable_network"] is False and config["max_submission_batch_size"] == 20
    [workers] = (await client.get("/workers/")).json()
    assert set(workers) == {"queue", "size", "available", "idle", "working", "paused", "failed"}
    stats = (await client.get("/statistics?invalidate_cache=true")).json()
    assert stats["submissions"]["total"] == 0 and len(stats["submissions"]["last_30_days"]) == 30
    assert "Mem" in (await client.get("/system_info")).json()
    assert (await client.get("/license")).status_code == 200


async def test_cors_preflight_and_headers(judge0: Judge0) -> None:
    preflight = await judge0.client.options(
        "/submissions",
        headers={
            "Origin": "https://ide.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-auth-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    simple = await judge0.client.get("/statuses", headers={"Origin": "https://ide.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
