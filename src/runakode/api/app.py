import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from runakode.admission import Admission
from runakode.api.admitted import admitted_sessions, admitted_submit
from runakode.api.auth import ApiKeys
from runakode.api.judge0 import Judge0Error, judge0_routes
from runakode.api.live import OpenSession, live_routes
from runakode.api.middleware import (
    Authentication,
    RequestContext,
    RequestGate,
    TrailingSlash,
    error_json,
    error_response,
)
from runakode.api.native import (
    Submit,
    describe_invalid,
    native_routes,
    no_versions,
)
from runakode.api.openapi import install_openapi
from runakode.api.piston import piston_routes
from runakode.api.routes import is_native, is_piston
from runakode.api.status import HealthCheck, status_routes
from runakode.availability import LanguageVersions
from runakode.config import Settings
from runakode.errors import BadRequest, RunakodeError
from runakode.models import ExecuteCompatRequest, ExecuteRequest
from runakode.playground import mount_playground
from runakode.ratelimit import TokenBucketLimiter
from runakode.submissions.intake import Intake
from runakode.submissions.store import SubmissionStore

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

VERSION = "0.2.0"


@dataclass(frozen=True)
class StoredSubmissions:
    """What the Judge0 routes need: the store and the way in."""

    store: SubmissionStore
    intake: Intake


def create_app(
    settings: Settings,
    submit: Submit,
    health_checks: list[HealthCheck],
    lifespan: Lifespan | None = None,
    language_versions: LanguageVersions | None = None,
    submissions: StoredSubmissions | None = None,
    open_session: OpenSession | None = None,
) -> FastAPI:
    """The whole HTTP API: our own routes, and Judge0's when there is a submission store."""
    app = FastAPI(title="runakode", version=VERSION, lifespan=lifespan)
    keys = ApiKeys(settings.auth)
    # One backlog for every route that runs a program and waits for it; Judge0's submissions
    # are stored and bounded by judge0.maxQueueSize instead.
    admission = Admission(settings.max_workers)
    submit = admitted_submit(admission, submit)
    if open_session is not None:
        open_session = admitted_sessions(admission, open_session, settings.api_timeout_s)
    app.include_router(status_routes(health_checks))
    app.include_router(native_routes(settings, submit, language_versions or no_versions))
    if submissions is not None:
        app.include_router(
            judge0_routes(
                settings,
                submissions.intake,
                submissions.store,
                keys,
                language_versions or no_versions,
            )
        )
    if open_session is not None:
        app.include_router(live_routes(settings, open_session, language_versions or no_versions))
        app.include_router(piston_routes(settings, open_session, language_versions or no_versions))
        mount_playground(app)
    limiter = (
        TokenBucketLimiter(settings.rate_limit.requests_per_second, settings.rate_limit.burst)
        if settings.rate_limit.enabled
        else None
    )
    # Outermost last: request id and logs, then paths, CORS, keys, rate and size limits.
    app.add_middleware(RequestGate, limiter=limiter)
    app.add_middleware(Authentication, keys=keys)
    if settings.cors.allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors.allow_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(TrailingSlash)
    app.add_middleware(RequestContext)
    add_error_handlers(app)
    install_openapi(app, (ExecuteRequest, ExecuteCompatRequest), settings)
    return app


def allowed_methods(app: FastAPI, path: str) -> str:
    """Every method the API's description lists for this path (the routers that FastAPI
    includes keep their routes out of app.router's sight)."""
    path = path.rstrip("/") or "/"
    paths = app.openapi().get("paths", {})
    if path in paths:  # /submissions/batch itself, not /submissions/{token}
        return ", ".join(sorted(method.upper() for method in paths[path]))
    methods: set[str] = set()
    for template, operations in paths.items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RunakodeError)
    async def _service_error(request: Request, exc: RunakodeError) -> JSONResponse:
        return error_response(exc, request.url.path)

    @app.exception_handler(Judge0Error)
    async def _judge0_error(_: Request, exc: Judge0Error) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(BadRequest(describe_invalid(exc)), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 405:
            # Starlette names only the methods of the first route with this path.
            allowed = allowed_methods(app, path)
            if allowed:
                exc.headers = {**(exc.headers or {}), "Allow": allowed}
        if is_piston(path) or is_native(path):
            return error_json(path, exc.detail, exc.status_code, exc.headers)
        # Judge0's clients see Rails' form, always as JSON.
        body = {"status": exc.status_code, "error": exc.detail}
        return JSONResponse(body, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette's own answer, except that Piston's clients need a JSON body to read.
        if is_piston(request.url.path):
            return JSONResponse({"message": "internal server error"}, 500)
        return PlainTextResponse("Internal Server Error", 500)


def create_status_app(
    health_checks: list[HealthCheck], lifespan: Lifespan | None = None
) -> FastAPI:
    """/health and /metrics for a process that runs workers but takes no jobs over HTTP."""
    app = FastAPI(title="runakode worker", version=VERSION, lifespan=lifespan)
    app.include_router(status_routes(health_checks))
    app.add_middleware(RequestContext)
    return app
