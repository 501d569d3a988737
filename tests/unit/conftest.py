"""Shared fixtures for the fast unit tests: no Docker, no RabbitMQ, no network."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runakode.config import Settings
from runakode.models import Job, JobResult, Status
from unit.fakes import FakeClock

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Settings from camelCase keys, exactly as a config file would spell them."""

    def make(**values: Any) -> Settings:
        return Settings.model_validate(values)

    return make


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text to a fresh file under tmp_path and return its path."""
    counter = iter(range(1_000_000))

    def write(text: str) -> Path:
        path = tmp_path / f"config-{next(counter)}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def ok_result(stdout: str = "hello\n") -> JobResult:
    return JobResult(
        stdout=stdout, stderr="", exit_code=0, timeout=False, exec_time_ms=12, status=Status.OK
    )


@pytest.fixture
def result_ok() -> JobResult:
    return ok_result()


@pytest.fixture
def make_job() -> Callable[..., Job]:
    counter = iter(range(1_000_000))

    def make(source_code: str = "print(1)", language: str = "python") -> Job:
        return Job(id=f"job-{next(counter)}", language=language, source_code=source_code)

    return make


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Open an httpx client on an app in-process; every client is closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def open_client(app: FastAPI, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        client = httpx.AsyncClient(transport=transport, base_url="http://runakode.test")
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()
