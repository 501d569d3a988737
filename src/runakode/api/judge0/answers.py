"""What Judge0 answers instead of a route's own result, and the request details it reads."""

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from runakode.api.auth import ApiKeys, presented_admin_key
from runakode.judge0.serialization import InvalidFields, requested_fields

# Rails' PublicExceptions bodies, always as JSON here (Judge0 sends them for JSON clients only).
NOT_FOUND = {"status": 404, "error": "Not Found"}
BAD_REQUEST = {"status": 400, "error": "Bad Request"}


class Judge0Error(Exception):
    """An answer Judge0 gives instead of the route's own: `{"error": ...}` or a bare status."""

    def __init__(self, status_code: int, body: Mapping[str, Any] | None) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body

    def response(self) -> Response:
        if self.body is None:
            return Response(status_code=self.status_code)
        return JSONResponse(dict(self.body), self.status_code)


def error(status_code: int, message: str) -> Judge0Error:
    return Judge0Error(status_code, {"error": message})


def check_authorized(keys: ApiKeys, request: Request) -> None:
    """Judge0's authorization (X-Auth-User): an empty 403 without an admin key."""
    if not keys.authorizes(presented_admin_key(request.headers, request.url.query)):
        raise Judge0Error(403, None)


def fields_of(request: Request) -> list[str]:
    try:
        return requested_fields(request.query_params.get("fields"))
    except InvalidFields as exc:
        raise error(400, str(exc)) from None


def ruby_int(text: str | None, default: int) -> int:
    """Ruby's String#to_i, as Judge0 reads numbers from the query: the leading integer, 0 when
    there is none."""
    if text is None:
        return default
    digits = text.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    number = ""
    for char in digits:
        # ASCII only: str.isdigit() also takes "²", which int() refuses (a 500, found by
        # schemathesis), and Ruby's to_i stops there too.
        if char not in "0123456789":
            break
        number += char
    return sign * int(number) if number else 0
