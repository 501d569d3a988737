"""Piston's API (engineer-man/piston 3.1.1, and emkc.org's layouts), for its clients unchanged."""

from fastapi import APIRouter

from runakode.api.live import OpenSession
from runakode.api.piston.connect import connect_routes
from runakode.api.piston.execute import execute_routes
from runakode.api.piston.legacy import legacy_routes
from runakode.availability import LanguageVersions
from runakode.config import Settings


def piston_routes(
    settings: Settings, open_session: OpenSession, language_versions: LanguageVersions
) -> APIRouter:
    router = APIRouter()
    router.include_router(execute_routes(settings, open_session, language_versions))
    router.include_router(connect_routes(settings, open_session, language_versions))
    router.include_router(legacy_routes(settings, open_session, language_versions))
    return router


__all__ = ["piston_routes"]
