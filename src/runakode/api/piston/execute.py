"""Piston v2's HTTP routes, at the self-hosted layout (/api/v2/…) and emkc.org's
(/api/v2/piston/…): runtimes, execute, packages."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runakode.api.live import OpenSession
from runakode.api.piston.answers import body_of, run_to_end, served_runtimes
from runakode.availability import LanguageVersions
from runakode.config import Settings
from runakode.jobs import answer_deadline_s
from runakode.logs import request_id_var
from runakode.piston.results import render_execute
from runakode.piston.validation import parse_execute

PREFIXES = ("/api/v2", "/api/v2/piston")
EXECUTE_EXAMPLE: dict[str, Any] = {
    "language": "python",
    "version": "3.x",
    "files": [{"name": "main.py", "content": "import sys\nprint(input(), sys.argv[1:])"}],
    "stdin": "hello",
    "args": ["1", "2"],
    "run_timeout": 3000,
}
EXECUTE_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"example": EXECUTE_EXAMPLE}},
    }
}


def execute_routes(
    settings: Settings, open_session: OpenSession, language_versions: LanguageVersions
) -> APIRouter:
    router = APIRouter(tags=["Piston"])

    async def list_runtimes() -> list[dict[str, object]]:
        return [rt.listing() for rt in await served_runtimes(settings, language_versions)]

    async def execute(request: Request) -> dict[str, Any]:
        runtimes = await served_runtimes(settings, language_versions)
        parsed = parse_execute(
            settings, await body_of(request), runtimes, request_id=request_id_var.get()
        )
        events = await run_to_end(open_session, parsed.job, answer_deadline_s(settings, parsed.job))
        return render_execute(parsed.runtime, events)

    for prefix in PREFIXES:
        router.add_api_route(
            f"{prefix}/runtimes",
            list_runtimes,
            methods=["GET"],
            summary="Runtimes: Piston's language names, aliases and versions",
        )
        router.add_api_route(
            f"{prefix}/execute",
            execute,
            methods=["POST"],
            openapi_extra=EXECUTE_DOC,
            summary="Run a program (Piston's body: JSON of any content type, or a form)",
        )

    @router.get("/api/v2/packages", summary="Packages: the runtimes, all installed")
    async def list_packages() -> list[dict[str, object]]:
        return [
            {"language": rt.language, "language_version": rt.version, "installed": True}
            for rt in await served_runtimes(settings, language_versions)
        ]

    async def manage_packages() -> JSONResponse:
        return JSONResponse({"message": "package management is not supported"}, 501)

    # One route per method: a route with two methods gets one operationId for both, and
    # generated clients need them unique.
    for method, verb in (("POST", "install"), ("DELETE", "uninstall")):
        router.add_api_route(
            "/api/v2/packages",
            manage_packages,
            methods=[method],
            operation_id=f"{verb}_package_api_v2_packages",
            summary=f"Packages: {verb} (not supported here: 501)",
        )

    return router
