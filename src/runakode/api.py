import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runakode import metrics
from runakode.config import Settings
from runakode.errors import BadRequest, PayloadTooLarge, RateLimited, RunakodeError
from runakode.logs import request_id_from, request_id_var
from runakode.models import ExecuteRequest, Job, JobResult
from runakode.ratelimit import TokenBucketLimiter, retry_after_header

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
EXECUTION_PATHS = frozenset({"/api"})

HealthCheck = Callable[[], Awaitable[str | None]]
Submit = Callable[[Job, float], Awaitable[JobResult]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def error_response(error: RunakodeError) -> JSONResponse:
    return JSONResponse({"error": error.message}, error.status_code, headers=error.headers)


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
            if scope["path"] in EXECUTION_PATHS:
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


class RequestGate:
    """Rate limit, then size limit, before any handler reads the body."""

    def __init__(self, app: ASGIApp, limiter: TokenBucketLimiter | None) -> None:
        self._app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._limiter is not None and scope["path"] in EXECUTION_PATHS:
            client = scope.get("client")
            wait_s = self._limiter.acquire(client[0] if client else "unknown")
            if wait_s > 0:
                await error_response(RateLimited(retry_after_header(wait_s)))(scope, receive, send)
                return
        try:
            body = await _read_body(scope, receive)
        except PayloadTooLarge as exc:
            await error_response(exc)(scope, receive, send)
            return
        await self._app(scope, _replay(body, receive), send)


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    too_large = PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
            raise too_large
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
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


def _describe_validation(error: ValidationError | RequestValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"] if part != "body")
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) or "invalid request"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def execute_request_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": ExecuteRequest.model_json_schema(),
                    "example": {"language": "python", "source_code": 'print("hello")'},
                }
            },
        }
    }


def create_app(
    settings: Settings,
    submit: Submit,
    health_checks: list[HealthCheck],
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(title="runakode", version="0.1.0", lifespan=lifespan)
    add_status_routes(app, health_checks)
    limiter = (
        TokenBucketLimiter(settings.rate_limit.requests_per_second, settings.rate_limit.burst)
        if settings.rate_limit.enabled
        else None
    )
    app.add_middleware(RequestGate, limiter=limiter)
    app.add_middleware(RequestContext)

    @app.exception_handler(RunakodeError)
    async def _service_error(_: Request, exc: RunakodeError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(BadRequest(_describe_validation(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    @app.post(
        "/api",
        response_model=JobResult,
        openapi_extra=execute_request_schema(),
        summary="Run a program in a fresh sandbox and return its output",
    )
    async def execute(request: Request) -> JobResult:
        try:
            body = ExecuteRequest.model_validate(parse_json_object(await request.body()))
        except ValidationError as exc:
            raise BadRequest(_describe_validation(exc)) from None
        if body.language not in settings.supported_languages:
            supported = ", ".join(settings.supported_languages)
            raise BadRequest(f"language {body.language!r} is not supported ({supported})")
        job = Job(
            id=uuid.uuid4().hex,
            language=body.language,
            source_code=body.source_code,
            request_id=request_id_var.get(),
        )
        return await submit(job, settings.api_timeout_s)

    return app


def add_status_routes(app: FastAPI, health_checks: list[HealthCheck]) -> None:
    @app.get("/health", summary="Whether this process can serve jobs")
    async def health() -> JSONResponse:
        reasons = [reason for check in health_checks if (reason := await check())]
        if reasons:
            return JSONResponse({"status": "degraded", "reason": "; ".join(reasons)}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", summary="Prometheus metrics of this process")
    async def prometheus_metrics() -> Response:
        for check in health_checks:
            await check()  # refreshes the up/down gauges
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_status_app(
    health_checks: list[HealthCheck], lifespan: Lifespan | None = None
) -> FastAPI:
    """/health and /metrics for a process that runs workers but takes no jobs over HTTP."""
    app = FastAPI(title="runakode worker", version="0.1.0", lifespan=lifespan)
    add_status_routes(app, health_checks)
    app.add_middleware(RequestContext)
    return app
