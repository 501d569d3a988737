"""Judge0 CE v1.13.1's routes at the server root, for its clients unchanged."""

from fastapi import APIRouter

from runakode.api.auth import ApiKeys
from runakode.api.judge0.answers import Judge0Error
from runakode.api.judge0.metadata import metadata_routes
from runakode.api.judge0.submissions import submission_routes
from runakode.availability import LanguageVersions
from runakode.config import Settings
from runakode.submissions.intake import Intake
from runakode.submissions.store import SubmissionStore


def judge0_routes(
    settings: Settings,
    intake: Intake,
    store: SubmissionStore,
    keys: ApiKeys,
    language_versions: LanguageVersions,
) -> APIRouter:
    router = APIRouter()
    router.include_router(submission_routes(settings, intake, store, keys, language_versions))
    router.include_router(metadata_routes(settings, store, keys, language_versions))
    return router


__all__ = ["Judge0Error", "judge0_routes"]
