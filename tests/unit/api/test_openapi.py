"""GET /api/languages, POST /execute and /openapi.json (fake submit, no services)."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runakode.api import EXECUTE_EXAMPLE, LanguageVersions, create_app
from runakode.config import Settings
from runakode.errors import BrokerUnavailable, ResultTimeout
from runakode.languages import LANGUAGES
from runakode.models import JobResult, Status
from unit.fakes import ClientFor, FakeSubmit

LANGS = ["python", "go", "java", "javascript", "cpp"]
COMPAT = {"language": "python3", "code": 'print("hello")'}


def versions_of(table: dict[str, str | None]) -> LanguageVersions:
    async def language_versions() -> dict[str, str | None]:
        return dict(table)

    return language_versions


def result(status: Status = Status.OK, stdout: str = "", stderr: str = "") -> JobResult:
    return JobResult(
        stdout=stdout, stderr=stderr, exit_code=0, timeout=False, exec_time_ms=5, status=status
    )


@pytest.fixture
def fake_submit(result_ok: JobResult) -> FakeSubmit:
    return FakeSubmit(result_ok)


@pytest.fixture
def make_lang_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def make(languages: list[str] = LANGS, **values: Any) -> Settings:
        return make_settings(
            supportedLanguages=languages,
            sandboxImages={name: f"{name}-img" for name in languages},
            jobTimeout="5s",
            jobMemory="512m",
            outputMaxBytes=4096,
            apiTimeout="7s",
            **values,
        )

    return make


@pytest.fixture
def settings(make_lang_settings: Callable[..., Settings]) -> Settings:
    return make_lang_settings()


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


# --- GET /api/languages -----------------------------------------------------------------------


async def test_languages_lists_enabled_languages_in_order(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    versions = versions_of(
        {"python": "Python 3.12.1", "go": "go1.22.1", "java": None, "rust": "rustc 1.77"}
    )
    client = client_for(create_app(settings, fake_submit, [], language_versions=versions))
    response = await client.get("/api/languages")

    assert response.status_code == 200
    # The workers announced python, go and java (java's image records no version); the others'
    # images are missing.
    py, go, java, js, cpp = response.json()
    assert py == {
        "name": "python",
        "version": "Python 3.12.1",
        "aliases": ["python3", "py"],
        "available": True,
    }
    assert go == {"name": "go", "version": "go1.22.1", "aliases": ["golang"], "available": True}
    assert java == {"name": "java", "version": None, "aliases": ["java17"], "available": True}
    assert js == {
        "name": "javascript",
        "version": None,
        "aliases": ["js", "node", "nodejs"],
        "available": False,
    }
    assert cpp["name"] == "cpp" and not cpp["available"]
    assert fake_submit.calls == []


async def test_languages_follow_the_configured_order(
    make_lang_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    order = ["php", "cpp", "python", "rust"]
    client = client_for(create_app(make_lang_settings(order), fake_submit, []))
    body = (await client.get("/api/languages")).json()
    assert [entry["name"] for entry in body] == order
    for entry in body:
        assert entry["aliases"] == list(LANGUAGES[entry["name"]].aliases)
        assert entry["version"] is None  # no language_versions given: every version unknown
    assert body[0]["aliases"] == []  # php has no alias


async def test_languages_reads_versions_on_each_request(
    settings: Settings, fake_submit: FakeSubmit, client_for: ClientFor
) -> None:
    calls = 0

    async def versions() -> dict[str, str | None]:
        nonlocal calls
        calls += 1
        return {"python": f"Python 3.{calls}"}

    client = client_for(create_app(settings, fake_submit, [], language_versions=versions))
    assert (await client.get("/api/languages")).json()[0]["version"] == "Python 3.1"
    assert (await client.get("/api/languages")).json()[0]["version"] == "Python 3.2"


async def test_post_on_languages_is_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/languages", json={}), 405)


# --- POST /execute ----------------------------------------------------------------------------


async def test_execute_answers_the_output(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = result(stdout="hello\n")
    response = await client.post("/execute", json=COMPAT)

    assert response.status_code == 200
    assert response.json() == {"output": "hello\n"}
    [(job, timeout_s)] = fake_submit.calls
    assert job.language == "python"
    assert job.source_code == 'print("hello")'
    assert job.merge_output is True
    assert (job.stdin, job.args, job.files) == ("", [], [])
    assert (job.timeout_s, job.memory_bytes, job.output_max_bytes) == (None, None, None)
    assert timeout_s == 7.0


async def test_execute_output_is_stdout_then_stderr(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = result(Status.RUNTIME_ERROR, stdout="out\n", stderr="Traceback\n")
    response = await client.post("/execute", json=COMPAT)
    assert (response.status_code, response.json()) == (200, {"output": "out\nTraceback\n"})


@pytest.mark.parametrize(
    "status", [Status.RUNTIME_ERROR, Status.TIMEOUT, Status.COMPILE_ERROR, Status.OUTPUT_LIMIT]
)
async def test_execute_failing_programs_still_answer_200(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, status: Status
) -> None:
    fake_submit.result = result(status, stderr="what went wrong\n")
    response = await client.post("/execute", json=COMPAT)
    assert (response.status_code, response.json()) == (200, {"output": "what went wrong\n"})


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("python3", "python"),
        ("PY", "python"),
        ("golang", "go"),
        ("node", "javascript"),
        ("js", "javascript"),
        ("c++", "cpp"),
        ("G++", "cpp"),
        ("java17", "java"),
    ],
)
async def test_execute_resolves_aliases(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, alias: str, canonical: str
) -> None:
    response = await client.post("/execute", json={"language": alias, "code": "x"})
    assert response.status_code == 200
    [(job, _)] = fake_submit.calls
    assert (job.language, job.merge_output) == (canonical, True)


async def test_execute_internal_error_is_a_500(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = JobResult.internal_error("the sandbox engine failed; the job did not run")
    message = assert_error(await client.post("/execute", json=COMPAT), 500)
    assert message == "the sandbox engine failed; the job did not run"


async def test_execute_internal_error_without_message(
    client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    fake_submit.result = JobResult.internal_error("")
    assert assert_error(await client.post("/execute", json=COMPAT), 500)


@pytest.mark.parametrize(
    ("error", "status"),
    [(BrokerUnavailable("down"), 503), (ResultTimeout("no result within 7 s"), 504)],
)
async def test_execute_submit_errors(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, error: Exception, status: int
) -> None:
    fake_submit.error = error
    assert assert_error(await client.post("/execute", json=COMPAT), status) == str(error)


@pytest.mark.parametrize(
    "content", [b"", b"nope", b"[]", b'"x"', b"null", b'{"language": "python3"', b"\xff"]
)
async def test_execute_body_not_a_json_object(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, content: bytes
) -> None:
    assert "JSON object" in assert_error(await client.post("/execute", content=content), 400)
    assert fake_submit.calls == []


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, "language"),
        ({"language": "python3"}, "code"),
        ({"code": "print(1)"}, "language"),
        ({**COMPAT, "code": ""}, "code"),
        ({**COMPAT, "code": " \n\t"}, "code"),
        ({**COMPAT, "code": None}, "code"),
        ({**COMPAT, "code": 1}, "code"),
        ({**COMPAT, "language": ""}, "language"),
        ({**COMPAT, "language": ["python"]}, "language"),
        ({**COMPAT, "stdin": "x"}, "stdin"),
        ({**COMPAT, "source_code": "x"}, "source_code"),
        ({**COMPAT, "version": "3.11"}, "version"),
        ({"language": "python", "source_code": "print(1)"}, "code"),
    ],
)
async def test_execute_bad_body(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, body: dict[str, Any], mentions: str
) -> None:
    assert mentions in assert_error(await client.post("/execute", json=body), 400)
    assert fake_submit.calls == []


@pytest.mark.parametrize("language", ["cobol", "rust", "rs", "gcc", "pythonn"])
async def test_execute_unknown_or_unserved_language(
    client: httpx.AsyncClient, fake_submit: FakeSubmit, language: str
) -> None:
    message = assert_error(
        await client.post("/execute", json={**COMPAT, "language": language}), 400
    )
    assert "not supported" in message
    assert fake_submit.calls == []


async def test_get_on_execute_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/execute")
    assert_error(response, 405)
    assert "POST" in response.headers["allow"]


# --- rate limit -------------------------------------------------------------------------------


@pytest.fixture
def limited_client(
    make_lang_settings: Callable[..., Settings], fake_submit: FakeSubmit, client_for: ClientFor
) -> httpx.AsyncClient:
    settings = make_lang_settings(rateLimit={"requestsPerSecond": 0.1, "burst": 2})
    return client_for(create_app(settings, fake_submit, []))


async def test_execute_is_rate_limited(
    limited_client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 200
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 200

    response = await limited_client.post("/execute", json=COMPAT)
    assert_error(response, 429)
    assert response.headers["retry-after"] == "10"
    assert len(fake_submit.calls) == 2


async def test_api_and_execute_share_one_budget(
    limited_client: httpx.AsyncClient, fake_submit: FakeSubmit
) -> None:
    old = {"language": "python", "source_code": "print(1)"}
    assert (await limited_client.post("/api", json=old)).status_code == 200
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 200
    assert_error(await limited_client.post("/execute", json=COMPAT), 429)
    assert_error(await limited_client.post("/api", json=old), 429)


async def test_languages_and_health_are_not_rate_limited(
    limited_client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await limited_client.post("/execute", json=COMPAT)
    assert (await limited_client.post("/execute", json=COMPAT)).status_code == 429
    for _ in range(10):
        assert (await limited_client.get("/api/languages")).status_code == 200
        assert (await limited_client.get("/health")).status_code == 200


# --- /openapi.json ----------------------------------------------------------------------------


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
