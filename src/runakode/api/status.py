from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

HealthCheck = Callable[[], Awaitable[str | None]]


def status_routes(health_checks: list[HealthCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Whether this process can serve jobs")
    async def health() -> JSONResponse:
        reasons = [reason for check in health_checks if (reason := await check())]
        if reasons:
            return JSONResponse({"status": "degraded", "reason": "; ".join(reasons)}, 503)
        return JSONResponse({"status": "ok"})

    @router.get("/metrics", summary="Prometheus metrics of this process")
    async def prometheus_metrics() -> PlainTextResponse:
        for check in health_checks:
            await check()  # refreshes the up/down gauges
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
