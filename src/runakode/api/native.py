import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from runakode.api.openapi import request_schema
from runakode.availability import LanguageVersions, unavailable_languages, unavailable_now
from runakode.config import Settings
from runakode.errors import BadRequest, RunakodeError, describe_validation_error
from runakode.jobs import answer_deadline_s, build_job
from runakode.languages import LANGUAGES
from runakode.logs import request_id_var
from runakode.models import (
    ExecuteCompatRequest,
    ExecuteRequest,
    Job,
    JobResult,
    LanguageInfo,
    Status,
)

Submit = Callable[[Job, float], Awaitable[JobResult]]
RequestModel = TypeVar("RequestModel", bound=BaseModel)

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
    "expected_output": "hello world ['--loud'] 42\n",
}


class CompatResult(BaseModel):
    output: str = Field(examples=["hello\n"])


async def no_versions() -> dict[str, str | None]:
    return {}


def describe_invalid(error: ValidationError | RequestValidationError) -> str:
    problems = [dict(problem) for problem in error.errors()]
    return describe_validation_error(problems, unknown="unknown field") or "invalid request"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def validated(model: type[RequestModel], raw: bytes) -> RequestModel:
    try:
        return model.model_validate(parse_json_object(raw))
    except ValidationError as exc:
        raise BadRequest(describe_invalid(exc)) from None


def native_routes(
    settings: Settings, submit: Submit, language_versions: LanguageVersions
) -> APIRouter:
    router = APIRouter(tags=["runakode"])

    @router.post(
        "/api",
        response_model=JobResult,
        response_model_exclude_none=True,
        openapi_extra=request_schema(ExecuteRequest, EXECUTE_EXAMPLE),
        summary="Run a program in a fresh sandbox and return what it did",
    )
    async def run_program(request: Request) -> JobResult:
        body = validated(ExecuteRequest, await request.body())
        job = build_job(
            settings,
            body,
            request_id=request_id_var.get(),
            unavailable=await unavailable_now(settings, language_versions),
        )
        return await submit(job, answer_deadline_s(settings, job))

    @router.get(
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
        missing = unavailable_languages(settings, versions)
        return [
            LanguageInfo(
                name=name,
                version=versions.get(name),
                aliases=list(LANGUAGES[name].aliases),
                available=name not in missing,
            )
            for name in settings.supported_languages
        ]

    @router.post(
        "/execute",
        response_model=CompatResult,
        openapi_extra=request_schema(
            ExecuteCompatRequest, {"language": "python3", "code": 'print("hello")'}
        ),
        summary="Run a program; answers its output as a terminal shows it",
    )
    async def run_program_compat(request: Request) -> CompatResult:
        body = validated(ExecuteCompatRequest, await request.body())
        job_request = ExecuteRequest(language=body.language, source_code=body.code)
        job = build_job(
            settings,
            job_request,
            request_id=request_id_var.get(),
            merge_output=True,
            unavailable=await unavailable_now(settings, language_versions),
        )
        result = await submit(job, answer_deadline_s(settings, job))
        if result.status == Status.INTERNAL_ERROR:
            raise RunakodeError(result.stderr or "the service failed to run the program")
        return CompatResult(output=result.stdout + result.stderr)

    return router
