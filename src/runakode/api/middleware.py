import logging
import time
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runakode import metrics
from runakode.api.auth import ApiKeys, presented_key
from runakode.api.routes import (
    CREATING_WORK,
    LIVE_PATHS,
    is_native,
    is_open,
    is_piston,
    max_body_bytes,
)
from runakode.errors import PayloadTooLarge, RateLimited, RunakodeError
from runakode.logs import request_id_from, request_id_var
from runakode.ratelimit import TokenBucketLimiter, retry_after_header

log = logging.getLogger(__name__)


def error_json(
    path: str, message: str, status_code: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Our error body; Piston's clients only recognise `{"message": ...}`."""
    key = "message" if is_piston(path) else "error"
    return JSONResponse({key: message}, status_code, headers=headers)


def error_response(error: RunakodeError, path: str = "") -> JSONResponse:
    return error_json(path, error.message, error.status_code, error.headers)


class RequestContext:
    """Gives each request an id (the client's X-Request-ID if sane), echoes it, logs the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        request_id = request_id_from(headers.get(b"x-request-id", b"").decode("latin-1"))
        token = request_id_var.set(request_id)
        started = time.monotonic()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("ascii")),
                ]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            if (scope["method"], scope["path"].rstrip("/") or "/") in CREATING_WORK:
                metrics.RESPONSES.labels(str(status)).inc()
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": int((time.monotonic() - started) * 1000),
                    "client": (scope.get("client") or ("?",))[0],
                },
            )
            request_id_var.reset(token)


class TrailingSlash:
    """/submissions/ is /submissions: Judge0's clients send both (no redirect, which would
    make some of them send a POST again)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and len(path) > 1 and path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path.rstrip("/") or "/"
            raw_path = scope.get("raw_path")
            if isinstance(raw_path, bytes):
                scope["raw_path"] = raw_path.rstrip(b"/") or b"/"
        await self._app(scope, receive, send)


class Authentication:
    """One key check for every route family. A refusal is Judge0's empty 401 on its routes and
    a JSON error on ours; /health, /metrics and the API description stay open."""

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self._app = app
        self._keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or not self._keys.enabled
            or is_open(scope["path"])
        ):
            await self._app(scope, receive, send)
            return
        # Browsers cannot set a WebSocket's headers: the key may come as X-Auth-Token=.
        query = scope.get("query_string", b"").decode("latin-1")
        key = presented_key(Headers(scope=scope), query)
        if not self._keys.authenticates(key):
            if scope["type"] == "websocket":
                await refuse_websocket(receive, send, "a valid API key is required")
            else:
                await _unauthorized(scope["path"])(scope, receive, send)
            return
        # The rate limit counts per key when keys are on.
        scope.setdefault("state", {})["client_key"] = f"key:{key}"
        await self._app(scope, receive, send)


def _unauthorized(path: str) -> Response:
    if is_native(path) or is_piston(path):
        message = "a valid API key is required (X-Auth-Token or Authorization: Bearer)"
        return error_json(path, message, 401, {"WWW-Authenticate": "Bearer"})
    return Response(status_code=401)


class RequestGate:
    """Rate limit (requests that create work), then size limit, before any handler reads the
    body."""

    def __init__(self, app: ASGIApp, limiter: TokenBucketLimiter | None) -> None:
        self._app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limited = scope["type"] == "websocket" and scope["path"] in LIVE_PATHS and self._limiter
        if limited and self._limiter and self._limiter.acquire(_client_key(scope)) > 0:
            await refuse_websocket(receive, send, "rate limit exceeded")
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._limiter is not None and (scope["method"], scope["path"]) in CREATING_WORK:
            wait_s = self._limiter.acquire(_client_key(scope))
            if wait_s > 0:
                limited = RateLimited(retry_after_header(wait_s))
                await error_response(limited, scope["path"])(scope, receive, send)
                return
        try:
            body = await _read_body(scope, receive, max_body_bytes(scope["path"]))
        except PayloadTooLarge as exc:
            await error_response(exc, scope["path"])(scope, receive, send)
            return
        await self._app(scope, _replay(body, receive), send)


async def refuse_websocket(receive: Receive, send: Send, reason: str) -> None:
    """Refuse a WebSocket before accepting it: the client sees HTTP 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008, "reason": reason})


def _client_key(scope: Scope) -> str:
    state = scope.get("state") or {}
    if key := state.get("client_key"):
        return str(key)
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    too_large = PayloadTooLarge(f"request body larger than {limit} bytes")
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise too_large
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            raise too_large
        if not message.get("more_body", False):
            break
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
