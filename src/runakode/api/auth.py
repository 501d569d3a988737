import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs

from runakode.config import AuthSettings

# Judge0's header names, also accepted as query parameters (Judge0 reads both).
TOKEN_HEADER = "X-Auth-Token"
USER_HEADER = "X-Auth-User"


def _matches(presented: str | None, accepted: Sequence[str]) -> bool:
    """Constant time in the presented key: every accepted key is compared, always."""
    if presented is None:
        return False
    candidate = presented.encode("utf-8", errors="replace")
    found = False
    for key in accepted:
        found |= hmac.compare_digest(candidate, key.encode("utf-8"))
    return found


class ApiKeys:
    """API keys for every route family: `tokens` authenticate (none configured: no
    authentication), `adminTokens` authorize listing and deleting submissions."""

    def __init__(self, settings: AuthSettings) -> None:
        self._tokens = list(settings.tokens)
        self._admin_tokens = list(settings.admin_tokens)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def authenticates(self, key: str | None) -> bool:
        return not self._tokens or _matches(key, self._tokens)

    def authorizes(self, admin_key: str | None) -> bool:
        # As Judge0: with no admin token configured, nobody is authorized.
        return bool(self._admin_tokens) and _matches(admin_key, self._admin_tokens)


def presented_key(headers: Mapping[str, str], query_string: str) -> str | None:
    """The key a request presents: X-Auth-Token (header or query), or Authorization: Bearer."""
    if value := headers.get(TOKEN_HEADER.lower()):
        return value
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return _query_value(query_string, TOKEN_HEADER)


def presented_admin_key(headers: Mapping[str, str], query_string: str) -> str | None:
    return headers.get(USER_HEADER.lower()) or _query_value(query_string, USER_HEADER)


def _query_value(query_string: str, name: str) -> str | None:
    values = parse_qs(query_string, keep_blank_values=True).get(name)
    return values[-1] if values else None
