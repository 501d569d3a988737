"""api/openapi.py: /openapi.json documents the routes, and its examples are accepted."""

from typing import Any

import httpx
import pytest

from runakode.api import EXECUTE_EXAMPLE
from unit.fakes import FakeSubmit


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _has_example(node: Any, document: dict[str, Any], seen: set[str]) -> bool:
    """An `example` or `examples` anywhere under node, following $refs into the document."""
    if isinstance(node, list):
        return any(_has_example(item, document, seen) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("example") is not None or node.get("examples"):
        return True
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        seen.add(ref)
        target: Any = document
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        if _has_example(target, document, seen):
            return True
    return any(_has_example(value, document, seen) for value in node.values())


def test_openapi_documents_the_routes(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    assert "post" in paths["/api"]
    assert "get" in paths["/api/languages"]
    assert "post" in paths["/execute"]
    for path, method in [("/api", "post"), ("/api/languages", "get"), ("/execute", "post")]:
        assert paths[path][method]["summary"]
        assert "200" in paths[path][method]["responses"]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (
            "/api",
            {"language", "source_code", "stdin", "args", "files", "limits", "expected_output"},
        ),
        ("/execute", {"language", "code"}),
    ],
)
def test_openapi_post_routes_document_body_and_example(
    openapi: dict[str, Any], path: str, fields: set[str]
) -> None:
    body = openapi["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/json"]
    assert set(media["schema"]["properties"]) == fields
    assert isinstance(media["example"], dict) and media["example"]
    assert set(media["example"]) <= fields


def test_openapi_api_example_is_the_documented_one(openapi: dict[str, Any]) -> None:
    media = openapi["paths"]["/api"]["post"]["requestBody"]["content"]["application/json"]
    assert media["example"] == EXECUTE_EXAMPLE


@pytest.mark.parametrize("path", ["/api", "/execute"])
async def test_openapi_examples_are_accepted_by_the_service(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, openapi: dict[str, Any], path: str
) -> None:
    example = openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    response = await client.post(path, json=example["example"])
    assert response.status_code == 200, response.text
    assert len(fake_submit.calls) == 1


def test_openapi_languages_route_has_an_example(openapi: dict[str, Any]) -> None:
    assert _has_example(openapi["paths"]["/api/languages"]["get"], openapi, set())


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in _refs(value)]


def test_openapi_refs_all_resolve(openapi: dict[str, Any]) -> None:
    dangling = []
    for ref in _refs(openapi["paths"]):
        target: Any = openapi
        for part in ref.removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            dangling.append(ref)
    assert dangling == []
