"""What the tests of the HTTP app share besides fixtures: request bodies and answer checks."""

import httpx

from runakode.api import LanguageVersions

# The languages the API tests' settings serve (api/conftest.py).
LANGS = ["python", "go", "java", "javascript", "cpp"]
# The smallest valid body of POST /api, and the keys of its answer before any option is set.
VALID = {"language": "python", "source_code": 'print("hello")'}
RESULT_KEYS = {"stdout", "stderr", "exit_code", "timeout", "exec_time_ms", "status", "truncated"}


def assert_error(response: httpx.Response, status: int = 400) -> str:
    """The native error body: JSON with exactly one key, `error`, a message; returns it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def versions_of(table: dict[str, str | None]) -> LanguageVersions:
    """The workers' language versions, as create_app asks for them."""

    async def language_versions() -> dict[str, str | None]:
        return dict(table)

    return language_versions
