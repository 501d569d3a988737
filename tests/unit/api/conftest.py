"""The HTTP app in process, with a fake submit in place of the broker (no services)."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runakode.api import create_app
from runakode.config import Settings
from runakode.models import JobResult
from unit.api.helpers import LANGS
from unit.fakes import ClientFor, FakeSubmit


@pytest.fixture
def fake_submit(result_ok: JobResult) -> FakeSubmit:
    return FakeSubmit(result_ok)


@pytest.fixture
def make_api_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings serving `languages` (each with an image), with round limits the tests check."""

    def make(languages: list[str] = LANGS, **values: Any) -> Settings:
        return make_settings(
            **{
                "supportedLanguages": languages,
                "sandboxImages": {name: f"{name}-img" for name in languages},
                "jobTimeout": "5s",
                "jobMemory": "512m",
                "outputMaxBytes": 4096,
                "apiTimeout": "7s",
                **values,
            }
        )

    return make


@pytest.fixture
def settings(make_api_settings: Callable[..., Settings]) -> Settings:
    return make_api_settings()


@pytest.fixture
def client(settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor) -> httpx.AsyncClient:
    return client_for(create_app(settings, fake_submit, []))


@pytest.fixture
def limited_client(
    make_api_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> httpx.AsyncClient:
    """A client of an app that allows a burst of 2 requests, then one every 10 s."""
    settings = make_api_settings(rateLimit={"requestsPerSecond": 0.1, "burst": 2})
    return client_for(create_app(settings, fake_submit, []))
