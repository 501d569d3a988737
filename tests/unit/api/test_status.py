"""api/status.py: /health, from what the process's health checks say."""

import httpx

from runakode.api import create_app
from runakode.config import Settings
from unit.fakes import ClientFor, FakeSubmit


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
