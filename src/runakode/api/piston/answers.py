"""What the Piston routes share: the body as Piston's clients send it, the runtimes served now,
and one run collected into its events."""

import asyncio
from typing import Any

from fastapi import Request

from runakode.api.live import OpenSession
from runakode.availability import LanguageVersions, unavailable_languages
from runakode.config import Settings
from runakode.errors import ResultTimeout
from runakode.models import Job
from runakode.piston.bodies import decode_body
from runakode.piston.runtimes import PistonRuntime, piston_runtimes
from runakode.streaming import SessionEvent, collect


async def body_of(request: Request) -> dict[str, Any]:
    return decode_body(await request.body(), request.headers.get("content-type", ""))


async def served_runtimes(
    settings: Settings, language_versions: LanguageVersions
) -> list[PistonRuntime]:
    """Piston lists installed runtimes only: a language whose image is missing is left out."""
    versions = await language_versions()
    missing = unavailable_languages(settings, versions)
    served = [name for name in settings.supported_languages if name not in missing]
    return piston_runtimes(served, versions)


async def run_to_end(open_session: OpenSession, job: Job, timeout_s: float) -> list[SessionEvent]:
    """Every event of the job's run; ResultTimeout (its sandbox ended) after timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            session = await open_session(job)
            return await collect(session)
    except TimeoutError:
        raise ResultTimeout(f"no result within {timeout_s:g} s") from None
