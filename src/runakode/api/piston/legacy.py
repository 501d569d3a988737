"""Piston v1 at emkc.org's old layout: /api/v1/piston/versions and /api/v1/piston/execute."""

from typing import Any

from fastapi import APIRouter, Request

from runakode.api.live import OpenSession
from runakode.api.piston.answers import body_of, run_to_end, served_runtimes
from runakode.availability import LanguageVersions
from runakode.config import Settings
from runakode.jobs import answer_deadline_s
from runakode.logs import request_id_var
from runakode.piston.legacy import parse_legacy, render_legacy, versions


def legacy_routes(
    settings: Settings, open_session: OpenSession, language_versions: LanguageVersions
) -> APIRouter:
    router = APIRouter(tags=["Piston v1"])

    @router.get("/api/v1/piston/versions", summary="Languages (Piston v1)")
    async def list_versions() -> list[dict[str, Any]]:
        return versions(await served_runtimes(settings, language_versions))

    @router.post("/api/v1/piston/execute", summary="Run a program (Piston v1)")
    async def execute(request: Request) -> dict[str, Any]:
        runtimes = await served_runtimes(settings, language_versions)
        legacy = parse_legacy(await body_of(request), runtimes, request_id=request_id_var.get())
        events = await run_to_end(open_session, legacy.job, answer_deadline_s(settings, legacy.job))
        return render_legacy(legacy, events)

    return router
