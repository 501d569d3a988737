import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runakode import metrics
from runakode.config import Settings
from runakode.errors import BadRequest, PayloadTooLarge, RateLimited, RunakodeError
from runakode.languages import LANGUAGES, resolve
from runakode.logs import request_id_from, request_id_var
from runakode.models import (
    ExecuteCompatRequest,
    ExecuteRequest,
    Job,
    JobFile,
    JobResult,
    LanguageInfo,
    Limits,
    Status,
)
from runakode.ratelimit import TokenBucketLimiter, retry_after_header

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
EXECUTION_PATHS = frozenset({"/api", "/execute"})

HealthCheck = Callable[[], Awaitable[str | None]]
LanguageVersions = Callable[[], Awaitable[dict[str, str | None]]]
RequestModel = TypeVar("RequestModel", bound=BaseModel)
MIN_MEMORY_BYTES = 16 << 20
EXECUTE_EXAMPLE: dict[str, Any] = {
    "language": "python",
    "source_code": (
        "import sys\nname = sys.stdin.readline().strip()\n"
        "print(f'hello {name}', sys.argv[1:], open('data.txt').read().strip())"
    ),
    "stdin": "world\n",
    "args": ["--loud"],
    "files": [{"name": "data.txt", "content": "42\n"}],
    "limits": {"timeout_s": 2, "memory_mb": 256},
}


class CompatResult(BaseModel):
    output: str = Field(examples=["hello\n"])


async def no_versions() -> dict[str, str | None]:
    return {}


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


OPENAPI_REF = "#/components/schemas/{model}"


def request_schema(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """The documented body of a route that parses its body itself (for 400s in our own words).

    Nested models are referenced under components/schemas, where openapi() puts them.
    """
    schema = model.model_json_schema(ref_template=OPENAPI_REF)
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


def install_openapi(app: FastAPI, body_models: tuple[type[BaseModel], ...]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in body_models:
                nested = model.model_json_schema(ref_template=OPENAPI_REF).get("$defs", {})
                for name, definition in nested.items():
                    components.setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def validated(model: type[RequestModel], raw: bytes) -> RequestModel:
    try:
        return model.model_validate(parse_json_object(raw))
    except ValidationError as exc:
        raise BadRequest(_describe_validation(exc)) from None


def build_job(settings: Settings, body: ExecuteRequest, *, merge_output: bool = False) -> Job:
    """Checks what depends on the operator's settings and turns a request into a job."""
    language = resolve(body.language)
    if language is None or language.name not in settings.supported_languages:
        supported = ", ".join(settings.supported_languages)
        raise BadRequest(f"language {body.language!r} is not supported ({supported})")
    main_file = language.main_file(body.source_code)
    if any(file.name == main_file for file in body.files):
        raise BadRequest(f"files: {main_file!r} is the name of the main source file")
    limits = body.limits or Limits()
    memory_bytes = limits.memory_mb << 20 if limits.memory_mb is not None else None
    maximums: tuple[tuple[str, float | None, float], ...] = (
        ("timeout_s", limits.timeout_s, settings.job_timeout_s),
        ("memory_mb", limits.memory_mb, settings.job_memory_bytes / (1 << 20)),
        ("output_max_bytes", limits.output_max_bytes, settings.output_max_bytes),
    )
    for name, value, maximum in maximums:
        if value is not None and value > maximum:
            shown = int(maximum) if float(maximum).is_integer() else maximum
            raise BadRequest(f"limits.{name}: at most {shown} on this service")
    if memory_bytes is not None and memory_bytes < MIN_MEMORY_BYTES:
        raise BadRequest(f"limits.memory_mb: at least {MIN_MEMORY_BYTES >> 20}")
    return Job(
        id=uuid.uuid4().hex,
        language=language.name,
        source_code=body.source_code,
        stdin=body.stdin,
        args=body.args,
        files=[JobFile(name=file.name, content=file.content) for file in body.files],
        timeout_s=limits.timeout_s,
        memory_bytes=memory_bytes,
        output_max_bytes=limits.output_max_bytes,
        merge_output=merge_output,
        request_id=request_id_var.get(),
    )


def create_app(
    settings: Settings,
    submit: Submit,
    health_checks: list[HealthCheck],
    lifespan: Lifespan | None = None,
    language_versions: LanguageVersions | None = None,
) -> FastAPI:
    language_versions = language_versions or no_versions
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
        response_model_exclude_none=True,
        openapi_extra=request_schema(ExecuteRequest, EXECUTE_EXAMPLE),
        summary="Run a program in a fresh sandbox and return what it did",
    )
    async def execute(request: Request) -> JobResult:
        body = validated(ExecuteRequest, await request.body())
        return await submit(build_job(settings, body), settings.api_timeout_s)

    @app.get(
        "/api/languages",
        response_model=list[LanguageInfo],
        summary="The languages this service runs, with their versions and aliases",
        responses={
            200: {
                "content": {
                    "application/json": {
                        "example": [
                            {"name": "python", "version": "Python 3.11.2", "aliases": ["py"]},
                            {"name": "go", "version": "go1.19.8", "aliases": ["golang"]},
                        ]
                    }
                }
            }
        },
    )
    async def list_languages() -> list[LanguageInfo]:
        versions = await language_versions()
        return [
            LanguageInfo(
                name=name, version=versions.get(name), aliases=list(LANGUAGES[name].aliases)
            )
            for name in settings.supported_languages
        ]

    @app.post(
        "/execute",
        response_model=CompatResult,
        openapi_extra=request_schema(
            ExecuteCompatRequest, {"language": "python3", "code": 'print("hello")'}
        ),
        summary="Run a program; answers its output as a terminal shows it",
    )
    async def execute_compat(request: Request) -> CompatResult:
        body = validated(ExecuteCompatRequest, await request.body())
        job_request = ExecuteRequest(language=body.language, source_code=body.code)
        result = await submit(
            build_job(settings, job_request, merge_output=True), settings.api_timeout_s
        )
        if result.status == Status.INTERNAL_ERROR:
            raise RunakodeError(result.stderr or "the service failed to run the program")
        return CompatResult(output=result.stdout + result.stderr)

    install_openapi(app, (ExecuteRequest, ExecuteCompatRequest))

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
