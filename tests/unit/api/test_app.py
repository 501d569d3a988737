"""The HTTP app with an in-process fake submit: status codes, error bodies, limits."""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runakode.api import MAX_BODY_BYTES, create_app
from runakode.config import Settings
from runakode.errors import BrokerUnavailable, QueueFull, ResultTimeout
from runakode.models import JobResult, Status
from unit.fakes import ClientFor, FakeSubmit

VALID = {"language": "python", "source_code": 'print("hello")'}
RESULT_KEYS = {"stdout", "stderr", "exit_code", "timeout", "exec_time_ms", "status", "truncated"}


@pytest.fixture
def fake_submit(result_ok: JobResult) -> FakeSubmit:
    return FakeSubmit(result_ok)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(apiTimeout="7s", supportedLanguages=["python"])


@pytest.fixture
def client(settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor) -> httpx.AsyncClient:
    return client_for(create_app(settings, fake_submit, []))


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


# --- POST /api --------------------------------------------------------------------------------


async def test_execute_returns_the_result(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    fake_submit.result = JobResult(
        stdout="hello\n",
        stderr="warn\n",
        exit_code=3,
        timeout=False,
        exec_time_ms=42,
        status=Status.RUNTIME_ERROR,
        truncated=True,
    )
    response = await client.post("/api", json=VALID)

    assert response.status_code == 200
    assert response.json() == {
        "stdout": "hello\n",
        "stderr": "warn\n",
        "exit_code": 3,
        "timeout": False,
        "exec_time_ms": 42,
        "status": "runtime_error",
        "truncated": True,
    }


async def test_execute_hands_the_job_to_submit(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    response = await client.post("/api", json=VALID)

    assert set(response.json()) == RESULT_KEYS
    [(job, timeout_s)] = fake_submit.calls
    assert job.language == "python"
    assert job.source_code == VALID["source_code"]
    assert job.id
    assert timeout_s == 7.0


async def test_every_job_gets_its_own_id(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    for _ in range(3):
        await client.post("/api", json=VALID)
    assert len({job.id for job, _ in fake_submit.calls}) == 3


async def test_get_on_api_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/api")
    assert_error(response, 405)
    assert "POST" in response.headers["allow"]


async def test_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/nowhere"), 404)


async def test_unknown_root_path_is_a_json_404_in_judge0s_form(client: httpx.AsyncClient) -> None:
    # The root belongs to Judge0's routes: its clients get Rails' body, always as JSON.
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "error": "Not Found"}


# --- 413 --------------------------------------------------------------------------------------


async def test_body_over_1mib_with_content_length(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    response = await client.post("/api", content=b" " * (MAX_BODY_BYTES + 1))
    assert_error(response, 413)
    assert fake_submit.calls == []


async def test_body_over_1mib_streamed_without_content_length(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    chunk = b" " * (64 << 10)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(MAX_BODY_BYTES // len(chunk) + 1):
            sent += len(chunk)
            yield chunk

    response = await client.post("/api", content=body())
    assert_error(response, 413)
    assert sent > MAX_BODY_BYTES
    assert fake_submit.calls == []


async def test_lying_content_length_does_not_bypass_the_limit(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    chunk = b" " * (256 << 10)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield chunk

    client = client_for(create_app(settings, fake_submit, []))
    response = await client.post("/api", content=body(), headers={"Content-Length": "10"})
    assert_error(response, 413)


async def test_body_of_exactly_1mib_is_accepted(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    encoded = json.dumps(VALID).encode()
    padded = encoded + b" " * (MAX_BODY_BYTES - len(encoded))
    assert len(padded) == MAX_BODY_BYTES

    response = await client.post("/api", content=padded)
    assert response.status_code == 200
    assert len(fake_submit.calls) == 1


# --- 400 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"",
        b"\xff\xfe\x00",
        b'["python", "print(1)"]',
        b'"a string"',
        b"42",
        b"null",
        b'{"language": "python", "source_code": "print(1)"',
    ],
)
async def test_body_that_is_not_a_json_object(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, content: bytes
) -> None:
    message = assert_error(await client.post("/api", content=content), 400)
    assert "JSON object" in message
    assert fake_submit.calls == []


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, "language"),
        ({"language": "python"}, "source_code"),
        ({"source_code": "print(1)"}, "language"),
        ({**VALID, "source_code": "   \n"}, "source_code"),
        ({**VALID, "language": ""}, "language"),
        ({**VALID, "language": 1}, "language"),
        ({**VALID, "source_code": ["print(1)"]}, "source_code"),
        ({**VALID, "source_code": None}, "source_code"),
        ({**VALID, "extra": True}, "extra"),
    ],
)
async def test_invalid_fields(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, body: dict[str, Any], mentions: str
) -> None:
    message = assert_error(await client.post("/api", json=body), 400)
    assert mentions in message
    assert fake_submit.calls == []


async def test_lone_surrogate_escape(client: httpx.AsyncClient, fake_submit: FakeSubmit):
    content = b'{"language": "python", "source_code": "print(\\"\\ud800\\")"}'
    message = assert_error(await client.post("/api", content=content), 400)
    assert "source_code" in message
    assert fake_submit.calls == []


@pytest.mark.parametrize("language", ["cobol", "go", "golang", "Pythonn"])
async def test_unsupported_language(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, language: str
) -> None:
    # settings serve python only: go is a known language but not served here
    message = assert_error(await client.post("/api", json={**VALID, "language": language}), 400)
    assert "not supported" in message
    assert fake_submit.calls == []


async def test_deeply_nested_json_is_a_400(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    client = client_for(create_app(settings, fake_submit, []), raise_app_exceptions=False)
    assert_error(await client.post("/api", content=b"[" * 100_000), 400)


# --- errors from submit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BrokerUnavailable("the broker is down"), 503),
        (QueueFull("the job queue is full"), 503),
        (ResultTimeout("no result within 7 s"), 504),
    ],
)
async def test_submit_errors(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, error: Exception, status: int
) -> None:
    fake_submit.error = error
    message = assert_error(await client.post("/api", json=VALID), status)
    assert message == str(error)


# --- 429 --------------------------------------------------------------------------------------


@pytest.fixture
def limited_client(
    make_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> httpx.AsyncClient:
    settings = make_settings(rateLimit={"requestsPerSecond": 0.1, "burst": 2})
    return client_for(create_app(settings, fake_submit, []))


async def test_rate_limit(limited_client: httpx.AsyncClient, fake_submit: FakeSubmit) -> None:
    assert (await limited_client.post("/api", json=VALID)).status_code == 200
    assert (await limited_client.post("/api", json=VALID)).status_code == 200

    response = await limited_client.post("/api", json=VALID)
    assert_error(response, 429)
    assert response.headers["retry-after"] == "10"  # one token every 10 s
    assert len(fake_submit.calls) == 2


async def test_rate_limit_counts_rejected_requests_too(limited_client: httpx.AsyncClient) -> None:
    assert (await limited_client.post("/api", content=b"nope")).status_code == 400
    assert (await limited_client.post("/api", content=b"nope")).status_code == 400
    assert_error(await limited_client.post("/api", json=VALID), 429)


async def test_health_is_never_rate_limited(limited_client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await limited_client.post("/api", json=VALID)
    for _ in range(10):
        assert (await limited_client.get("/health")).status_code == 200


async def test_rate_limit_zero_turns_limiting_off(
    make_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    settings = make_settings(rateLimit={"requestsPerSecond": 0, "burst": 1})
    client = client_for(create_app(settings, fake_submit, []))
    statuses = {(await client.post("/api", json=VALID)).status_code for _ in range(5)}
    assert statuses == {200}


# --- /health ----------------------------------------------------------------------------------


async def test_health_ok(settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor):
    async def healthy() -> str | None:
        return None

    client = client_for(create_app(settings, fake_submit, [healthy, healthy]))
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_with_no_checks_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_health_degraded(settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor):
    async def healthy() -> str | None:
        return None

    async def broker_down() -> str | None:
        return "broker connection lost"

    async def docker_down() -> str | None:
        return "docker is not answering"

    client = client_for(create_app(settings, fake_submit, [broker_down, healthy, docker_down]))
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "reason": "broker connection lost; docker is not answering",
    }
