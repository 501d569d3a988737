"""Judge0's routes about the service: languages, statuses, versions, limits, workers, keys."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from runakode.api.auth import ApiKeys
from runakode.api.judge0.answers import NOT_FOUND, Judge0Error, check_authorized, ruby_int
from runakode.availability import LanguageVersions, unavailable_now
from runakode.config import Settings
from runakode.judge0 import info
from runakode.judge0.languages import JUDGE0_LANGUAGES, Judge0Language, served
from runakode.judge0.limits import config_info
from runakode.submissions.record import Judge0Status
from runakode.submissions.store import SubmissionStore


def metadata_routes(
    settings: Settings,
    store: SubmissionStore,
    keys: ApiKeys,
    language_versions: LanguageVersions,
) -> APIRouter:
    router = APIRouter(tags=["Judge0 CE"])
    statistics = info.Statistics(store)
    supported = settings.supported_languages

    @router.get("/languages", summary="Languages (Judge0 ids) that can run now")
    async def list_languages() -> list[dict[str, Any]]:
        missing = await unavailable_now(settings, language_versions)
        return [{"id": e.id, "name": e.name} for e in served(supported) if e.runtime not in missing]

    @router.get(
        "/languages/all",
        summary="Languages; those whose sandbox image is missing are listed as archived",
    )
    async def list_all_languages() -> list[dict[str, Any]]:
        missing = await unavailable_now(settings, language_versions)
        return [
            {"id": e.id, "name": e.name, "is_archived": e.runtime in missing}
            for e in served(supported)
        ]

    @router.get("/languages/{language_id}", summary="One language (Judge0 id)")
    async def read_language(language_id: str) -> Response:
        entry = JUDGE0_LANGUAGES.get(ruby_int(language_id, 0))
        if entry is None or entry.runtime not in supported:
            raise Judge0Error(404, NOT_FOUND)
        return JSONResponse(
            _language_details(
                entry, entry.runtime in await unavailable_now(settings, language_versions)
            )
        )

    @router.get("/statuses", summary="Statuses")
    async def list_statuses() -> list[dict[str, Any]]:
        return [{"id": s.value, "description": s.description} for s in Judge0Status]

    @router.get("/about", summary="About (Judge0 version this server speaks)")
    async def about(request: Request) -> dict[str, str]:
        return info.about(str(request.base_url).rstrip("/"))

    @router.get("/version", response_class=PlainTextResponse)
    async def version() -> str:
        return info.VERSION

    @router.get("/isolate", response_class=PlainTextResponse, summary="The sandbox in use")
    async def isolate() -> str:
        return await info.isolate_text()

    @router.get("/license", response_class=PlainTextResponse)
    async def license_text() -> str:
        return info.license_text()

    @router.get("/system_info", summary="CPU and memory of the API's host")
    async def system_info() -> dict[str, str]:
        return info.system_info()

    @router.get("/config_info", summary="Limits and switches, with Judge0's keys")
    async def read_config_info() -> dict[str, Any]:
        return config_info(settings)

    @router.get("/statistics", summary="Submission counts")
    async def read_statistics(request: Request) -> dict[str, Any]:
        invalidate = request.query_params.get("invalidate_cache") == "true"
        return await statistics.get(invalidate=invalidate)

    @router.get("/workers", summary="Workers serving the queue")
    async def read_workers() -> list[dict[str, Any]]:
        return await info.workers(store, settings.rabbitmq.queue)

    @router.post("/authenticate", summary="Check an API key (X-Auth-Token)")
    async def authenticate() -> Response:
        return Response(status_code=200)

    @router.post("/authorize", summary="Check an admin key (X-Auth-User)")
    async def authorize(request: Request) -> Response:
        check_authorized(keys, request)
        return Response(status_code=200)

    return router


def _language_details(entry: Judge0Language, archived: bool) -> dict[str, Any]:
    language = entry.language
    compile_argv = language.compile_argv(entry.source_file, ("%s",))
    return {
        "id": entry.id,
        "name": entry.name,
        "is_archived": archived,
        "source_file": entry.source_file,
        "compile_cmd": " ".join(compile_argv) if compile_argv else None,
        "run_cmd": " ".join(language.run_argv(entry.source_file)),
    }
