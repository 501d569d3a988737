"""api.auth: which key a request presents, and which keys are accepted."""

import pytest

from runakode.api.auth import ApiKeys, presented_admin_key, presented_key
from runakode.config import AuthSettings


@pytest.mark.parametrize(
    ("headers", "query", "key"),
    [
        ({"x-auth-token": "a"}, "", "a"),
        ({"authorization": "Bearer  b "}, "", "b"),
        ({"authorization": "bearer c"}, "", "c"),
        ({"authorization": "Basic d"}, "", None),
        ({}, "X-Auth-Token=e&x=1", "e"),
        ({"x-auth-token": "f"}, "X-Auth-Token=g", "f"),
        ({}, "", None),
    ],
)
def test_presented_key(headers: dict[str, str], query: str, key: str | None) -> None:
    assert presented_key(headers, query) == key


def test_presented_admin_key() -> None:
    assert presented_admin_key({"x-auth-user": "u"}, "") == "u"
    assert presented_admin_key({}, "X-Auth-User=v") == "v"
    assert presented_admin_key({}, "") is None


def test_no_tokens_means_no_authentication_and_no_admin() -> None:
    keys = ApiKeys(AuthSettings())
    assert not keys.enabled
    assert keys.authenticates(None) and keys.authenticates("anything")
    # As Judge0: without an admin token configured, nobody may list or delete.
    assert not keys.authorizes("anything") and not keys.authorizes(None)


def test_configured_tokens() -> None:
    keys = ApiKeys(AuthSettings(tokens=["one", "twö"], adminTokens=["root"]))
    assert keys.enabled
    assert keys.authenticates("one") and keys.authenticates("twö")
    for wrong in (None, "", "on", "one ", "ONE", "root"):
        assert not keys.authenticates(wrong)
    assert keys.authorizes("root")
    assert not keys.authorizes("one")
