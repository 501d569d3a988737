"""Judge0's submission routes: create (one, a batch, waiting or not), read, list, delete."""

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from runakode.api.auth import ApiKeys
from runakode.api.judge0.answers import (
    BAD_REQUEST,
    NOT_FOUND,
    Judge0Error,
    check_authorized,
    error,
    fields_of,
    ruby_int,
)
from runakode.availability import LanguageVersions, unavailable_now
from runakode.config import Judge0Settings, Settings
from runakode.judge0.serialization import NotUtf8, render
from runakode.judge0.validation import parse_submission
from runakode.logs import request_id_var
from runakode.submissions.intake import Intake
from runakode.submissions.record import Submission, SubmissionRequest
from runakode.submissions.store import SubmissionStore

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


def base64_encoded(judge0: Judge0Settings, request: Request) -> bool:
    value = request.query_params.get("base64_encoded")
    if judge0.implicit_base64:
        return value != "false"
    return value == "true"


def check_maintenance(judge0: Judge0Settings) -> None:
    if judge0.maintenance_mode:
        raise error(503, judge0.maintenance_message)


def check_batch_size(judge0: Judge0Settings, count: int) -> None:
    if count > judge0.max_submission_batch_size:
        raise error(
            400,
            "number of submissions in a batch should be less than or equal to "
            f"{judge0.max_submission_batch_size}",
        )
    if count == 0:
        raise error(400, "there should be at least one submission in a batch")


async def body_of(request: Request) -> dict[str, Any]:
    """A JSON object, or form fields as Rails also takes them; Rails' 400 for anything else."""
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


def busy(submission: Submission) -> Judge0Error:
    status = submission.status
    return error(
        400,
        f"submission cannot be deleted because its status is {status.value} ({status.description})",
    )


def submission_routes(
    settings: Settings,
    intake: Intake,
    store: SubmissionStore,
    keys: ApiKeys,
    language_versions: LanguageVersions,
) -> APIRouter:
    judge0 = settings.judge0
    router = APIRouter(tags=["Judge0 CE"])

    async def check_queue_room(count: int) -> None:
        if await store.count_waiting() + count > judge0.max_queue_size:
            raise error(503, "queue is full")

    async def parser() -> Callable[[Any, bool], SubmissionRequest | dict[str, list[str]]]:
        unavailable = await unavailable_now(settings, language_versions)

        def parsed(params: Any, encoded: bool) -> SubmissionRequest | dict[str, list[str]]:
            if not isinstance(params, Mapping):
                return {"submission": ["must be an object"]}
            return parse_submission(
                params, base64_encoded=encoded, settings=settings, unavailable=unavailable
            )

        return parsed

    @router.post("/submissions", status_code=201, summary="Create a submission")
    async def create_submission(request: Request) -> Response:
        check_maintenance(judge0)
        wait = request.query_params.get("wait") == "true"
        if wait and not judge0.enable_wait_result:
            raise error(400, "wait not allowed")
        await check_queue_room(1)
        fields = fields_of(request)
        encoded = base64_encoded(judge0, request)
        parsed = await parser()
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
            raise error(400, "batched submissions are not allowed")
        body = await body_of(request)
        items = body.get("submissions")
        items = items if isinstance(items, list) else []
        await check_queue_room(max(1, len(items)))
        check_batch_size(judge0, len(items))
        encoded = base64_encoded(judge0, request)
        parsed = await parser()
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

    @router.get("/submissions/batch", summary="Read up to 20 submissions")
    async def read_batch(request: Request) -> Response:
        if not judge0.enable_batched_submissions:
            raise error(400, "batched submissions are not allowed")
        raw = request.headers.get("tokens") or request.query_params.get("tokens") or ""
        tokens = [token for token in raw.strip().split(",") if token]
        check_batch_size(judge0, len(tokens))
        fields = fields_of(request)
        encoded = base64_encoded(judge0, request)
        found = await store.get_many(tokens)
        try:
            rendered = [
                render(found[token], fields, base64_encoded=encoded) if token in found else None
                for token in tokens
            ]
        except NotUtf8:
            raise error(400, NOT_UTF8_MANY) from None
        return JSONResponse({"submissions": rendered})

    @router.get("/submissions/{token}", summary="Read a submission")
    async def read_submission(request: Request, token: str) -> Response:
        fields = fields_of(request)
        submission = await store.get(token)
        if submission is None:
            raise Judge0Error(404, NOT_FOUND)
        try:
            return JSONResponse(
                render(submission, fields, base64_encoded=base64_encoded(judge0, request))
            )
        except NotUtf8:
            raise error(400, NOT_UTF8) from None

    @router.get("/submissions", summary="List submissions, newest first (admin)")
    async def list_submissions(request: Request) -> Response:
        check_authorized(keys, request)
        fields = fields_of(request)
        page = ruby_int(request.query_params.get("page"), 1)
        per_page = ruby_int(request.query_params.get("per_page"), DEFAULT_PER_PAGE)
        if page <= 0:
            raise error(400, f"invalid page: {page}")
        if per_page < 0:
            raise error(400, f"invalid per_page: {per_page}")
        per_page = min(per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)
        submissions, total = await store.page(page, per_page)
        try:
            rendered = [
                render(s, fields, base64_encoded=base64_encoded(judge0, request))
                for s in submissions
            ]
        except NotUtf8:
            raise error(400, NOT_UTF8_MANY) from None
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
        check_authorized(keys, request)
        check_maintenance(judge0)
        if not judge0.enable_submission_delete:
            raise error(400, "delete not allowed")
        fields = fields_of(request)
        submission = await store.get(token)
        if submission is None:
            raise Judge0Error(404, NOT_FOUND)
        if not submission.status.final:
            raise busy(submission)
        deleted = await store.delete_finished(token)
        if deleted is None:
            raise busy(submission)
        # Always base64, as Judge0: whatever the deleted submission held comes back whole.
        return JSONResponse(render(deleted, fields, base64_encoded=True))

    return router
