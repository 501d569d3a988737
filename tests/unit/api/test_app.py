"""api/app.py: routing, the request gate (413, 429) and the error handlers, through POST /api."""

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from runakode.api import MAX_BODY_BYTES, create_app
from runakode.config import Settings
from runakode.errors import BrokerUnavailable, QueueFull, ResultTimeout
from unit.api.helpers import VALID, assert_error
from unit.fakes import ClientFor, FakeSubmit

# --- routing ----------------------------------------------------------------------------------


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
