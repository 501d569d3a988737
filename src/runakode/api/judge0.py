"""Judge0 CE v1.13.1's routes at the server root, for its clients unchanged."""

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from runakode.api.auth import ApiKeys, presented_admin_key
from runakode.config import Settings
from runakode.judge0 import info
from runakode.judge0.languages import JUDGE0_LANGUAGES, Judge0Language, served
from runakode.judge0.limits import config_info
from runakode.judge0.serialization import InvalidFields, NotUtf8, render, requested_fields
from runakode.judge0.validation import parse_submission
from runakode.logs import request_id_var
from runakode.submissions.intake import Intake
from runakode.submissions.record import Judge0Status, Submission, SubmissionRequest
from runakode.submissions.store import SubmissionStore

NOT_FOUND = {"status": 404, "error": "Not Found"}
BAD_REQUEST = {"status": 400, "error": "Bad Request"}
NOT_UTF8 = (
    "some attributes for this submission cannot be converted to UTF-8, "
    "use base64_encoded=true query parameter"
)
NOT_UTF8_MANY = (
    "some attributes for one or more submissions cannot be converted to UTF-8, "
    "use base64_encoded=true query parameter"
)
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 1000


class Judge0Error(Exception):
    """An answer Judge0 gives instead of the route's own: `{"error": ...}` or a bare status."""

    def __init__(self, status_code: int, body: Mapping[str, Any] | None) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body

    def response(self) -> Response:
        if self.body is None:
            return Response(status_code=self.status_code)
        return JSONResponse(dict(self.body), self.status_code)


def _error(status_code: int, message: str) -> Judge0Error:
    return Judge0Error(status_code, {"error": message})


def _ruby_int(text: str | None, default: int) -> int:
    """Ruby's String#to_i: the leading integer, 0 when there is none."""
    if text is None:
        return default
    digits = text.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    number = ""
    for char in digits:
        if not char.isdigit():
            break
        number += char
    return sign * int(number) if number else 0


def judge0_routes(
    settings: Settings, intake: Intake, store: SubmissionStore, keys: ApiKeys
) -> APIRouter:
    judge0 = settings.judge0
    router = APIRouter(tags=["Judge0 CE"])
    statistics = info.Statistics(store)

    def base64_encoded(request: Request) -> bool:
        value = request.query_params.get("base64_encoded")
        if judge0.implicit_base64:
            return value != "false"
        return value == "true"

    def fields_of(request: Request) -> list[str]:
        try:
            return requested_fields(request.query_params.get("fields"))
        except InvalidFields as exc:
            raise _error(400, str(exc)) from None

    def check_maintenance() -> None:
        if judge0.maintenance_mode:
            raise _error(503, judge0.maintenance_message)

    def check_authorized(request: Request) -> None:
        query = request.url.query
        if not keys.authorizes(presented_admin_key(request.headers, query)):
            raise Judge0Error(403, None)

    async def check_queue_room(count: int) -> None:
        if await store.count_waiting() + count > judge0.max_queue_size:
            raise _error(503, "queue is full")

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise Judge0Error(400, BAD_REQUEST) from None
        if not isinstance(data, dict):
            raise Judge0Error(400, BAD_REQUEST)
        return data

    def parsed(params: Any, encoded: bool) -> SubmissionRequest | dict[str, list[str]]:
        if not isinstance(params, Mapping):
            return {"submission": ["must be an object"]}
        return parse_submission(params, base64_encoded=encoded, settings=settings)

    @router.post("/submissions", status_code=201, summary="Create a submission")
    async def create_submission(request: Request) -> Response:
        check_maintenance()
        wait = request.query_params.get("wait") == "true"
        if wait and not judge0.enable_wait_result:
            raise _error(400, "wait not allowed")
        await check_queue_room(1)
        fields = fields_of(request)
        encoded = base64_encoded(request)
        submission_request = parsed(await body_of(request), encoded)
        if isinstance(submission_request, dict):
            return JSONResponse(submission_request, 422)
        [created] = await intake.submit(
            [submission_request], request_id=request_id_var.get(), notify=wait
        )
        if not wait:
            return JSONResponse({"token": created.token}, 201)
        ended = await intake.wait(created)
        try:
            return JSONResponse(render(ended, fields, base64_encoded=encoded), 201)
        except NotUtf8:
            return JSONResponse({"error": NOT_UTF8, "token": created.token}, 201)

    @router.post("/submissions/batch", status_code=201, summary="Create up to 20 submissions")
    async def create_batch(request: Request) -> Response:
        if not judge0.enable_batched_submissions:
            raise _error(400, "batched submissions are not allowed")
        body = await body_of(request)
        items = body.get("submissions")
        items = items if isinstance(items, list) else []
        await check_queue_room(max(1, len(items)))
        check_batch_size(len(items))
        encoded = base64_encoded(request)
        answers = [parsed(item, encoded) for item in items]
        valid = [answer for answer in answers if isinstance(answer, SubmissionRequest)]
        created = iter(
            await intake.submit(valid, request_id=request_id_var.get(), notify=False)
            if valid
            else []
        )
        response = [
            answer if isinstance(answer, dict) else {"token": next(created).token}
            for answer in answers
        ]
        return JSONResponse(response, 201 if valid else 422)

    def check_batch_size(count: int) -> None:
        if count > judge0.max_submission_batch_size:
            raise _error(
                400,
                "number of submissions in a batch should be less than or equal to "
                f"{judge0.max_submission_batch_size}",
            )
        if count == 0:
            raise _error(400, "there should be at least one submission in a batch")

    @router.get("/submissions/batch", summary="Read up to 20 submissions")
    async def read_batch(request: Request) -> Response:
        if not judge0.enable_batched_submissions:
            raise _error(400, "batched submissions are not allowed")
        raw = request.headers.get("tokens") or request.query_params.get("tokens") or ""
        tokens = [token for token in raw.strip().split(",") if token]
        check_batch_size(len(tokens))
        fields = fields_of(request)
        encoded = base64_encoded(request)
        found = await store.get_many(tokens)
        try:
            rendered = [
                render(found[token], fields, base64_encoded=encoded) if token in found else None
                for token in tokens
            ]
        except NotUtf8:
            raise _error(400, NOT_UTF8_MANY) from None
        return JSONResponse({"submissions": rendered})

    @router.get("/submissions/{token}", summary="Read a submission")
    async def read_submission(request: Request, token: str) -> Response:
        fields = fields_of(request)
        submission = await store.get(token)
        if submission is None:
            raise Judge0Error(404, NOT_FOUND)
        try:
            return JSONResponse(render(submission, fields, base64_encoded=base64_encoded(request)))
        except NotUtf8:
            raise _error(400, NOT_UTF8) from None

    @router.get("/submissions", summary="List submissions, newest first (admin)")
    async def list_submissions(request: Request) -> Response:
        check_authorized(request)
        fields = fields_of(request)
        page = _ruby_int(request.query_params.get("page"), 1)
        per_page = _ruby_int(request.query_params.get("per_page"), DEFAULT_PER_PAGE)
        if page <= 0:
            raise _error(400, f"invalid page: {page}")
        if per_page < 0:
            raise _error(400, f"invalid per_page: {per_page}")
        per_page = min(per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)
        submissions, total = await store.page(page, per_page)
        try:
            rendered = [
                render(s, fields, base64_encoded=base64_encoded(request)) for s in submissions
            ]
        except NotUtf8:
            raise _error(400, NOT_UTF8_MANY) from None
        total_pages = -(-total // per_page)
        return JSONResponse(
            {
                "submissions": rendered,
                "meta": {
                    "current_page": page,
                    "next_page": page + 1 if page < total_pages else None,
                    "prev_page": page - 1 if page > 1 else None,
                    "total_pages": total_pages,
                    "total_count": total,
                },
            }
        )

    @router.delete("/submissions/{token}", summary="Delete a submission that has ended (admin)")
    async def delete_submission(request: Request, token: str) -> Response:
        check_authorized(request)
        check_maintenance()
        if not judge0.enable_submission_delete:
            raise _error(400, "delete not allowed")
        fields = fields_of(request)
        submission = await store.get(token)
        if submission is None:
            raise Judge0Error(404, NOT_FOUND)
        if not submission.status.final:
            raise _busy(submission)
        deleted = await store.delete_finished(token)
        if deleted is None:
            raise _busy(submission)
        # Always base64, as Judge0: whatever the deleted submission held comes back whole.
        return JSONResponse(render(deleted, fields, base64_encoded=True))

    @router.get("/languages", summary="Languages (Judge0 ids)")
    async def list_languages() -> list[dict[str, Any]]:
        return [{"id": e.id, "name": e.name} for e in served(settings.supported_languages)]

    @router.get("/languages/all", summary="Languages, archived ones too (none here)")
    async def list_all_languages() -> list[dict[str, Any]]:
        return [
            {"id": e.id, "name": e.name, "is_archived": False}
            for e in served(settings.supported_languages)
        ]

    @router.get("/languages/{language_id}", summary="One language (Judge0 id)")
    async def read_language(language_id: str) -> Response:
        entry = JUDGE0_LANGUAGES.get(_ruby_int(language_id, 0))
        if entry is None or entry.runtime not in settings.supported_languages:
            raise Judge0Error(404, NOT_FOUND)
        return JSONResponse(_language_details(entry))

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
        check_authorized(request)
        return Response(status_code=200)

    return router


def _busy(submission: Submission) -> Judge0Error:
    status = submission.status
    return _error(
        400,
        f"submission cannot be deleted because its status is {status.value} ({status.description})",
    )


def _language_details(entry: Judge0Language) -> dict[str, Any]:
    language = entry.language
    compile_argv = language.compile_argv(entry.source_file, ("%s",))
    return {
        "id": entry.id,
        "name": entry.name,
        "is_archived": False,
        "source_file": entry.source_file,
        "compile_cmd": " ".join(compile_argv) if compile_argv else None,
        "run_cmd": " ".join(language.run_argv(entry.source_file)),
    }
