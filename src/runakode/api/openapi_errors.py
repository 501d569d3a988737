"""The error answers of every route, in the API's description: which statuses each family's
routes give, and their bodies (ours `{"error"}`, Piston's `{"message"}`, Judge0's own forms).

FastAPI only documents what a handler returns; these come from the middlewares (keys, rate and
size limits), the admission of runs and each family's validation, so they are added here."""

from typing import Any

from runakode.api.routes import CREATING_WORK, is_native, is_piston

NATIVE_ERROR = "NativeError"
PISTON_ERROR = "PistonError"
JUDGE0_ERROR = "Judge0Error"
JUDGE0_INVALID = "Judge0Invalid"
JUDGE0_BATCH_INVALID = "Judge0BatchInvalid"

SCHEMAS: dict[str, dict[str, Any]] = {
    NATIVE_ERROR: {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    PISTON_ERROR: {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
    # Rails' answer to a route it refuses: {"status": 404, "error": "Not Found"}, or
    # {"error": "..."} from Judge0's controllers.
    JUDGE0_ERROR: {
        "type": "object",
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
        "required": ["error"],
    },
    # A submission Judge0's model refuses: each attribute with its messages.
    JUDGE0_INVALID: {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    # A batch with an invalid submission: each one's errors (or its token), in order.
    JUDGE0_BATCH_INVALID: {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
            },
        },
    },
}

WHY = {
    400: "The request is not one this route takes",
    401: "An API key is required (X-Auth-Token, or Authorization: Bearer)",
    403: "The admin key (X-Auth-User) is missing or wrong, or the feature is turned off",
    404: "No such item",
    405: "Not a method of this route",
    413: "The request body is too large",
    422: "The submission is invalid: each attribute with its messages",
    429: "Rate limit exceeded: Retry-After says when to come back",
    501: "Not implemented here: runakode's runtimes come with its images",
    503: "The service is busy or a part of it is unreachable: Retry-After says when to come back",
    504: "The run did not finish within apiTimeout",
}

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _statuses(path: str, method: str) -> set[int]:
    """The errors a route can answer, beyond what its handler declares."""
    statuses = {401}
    if method in ("post", "put", "patch"):
        statuses |= {400, 413}
    if (method.upper(), path) in CREATING_WORK:
        statuses |= {429, 503}
    if is_native(path) and method == "post":
        statuses |= {503, 504}
    if is_piston(path):
        statuses |= {400}
        if path == "/api/v2/packages" and method != "get":
            statuses |= {501}
        if method == "post" and "execute" in path:
            statuses |= {503, 504}
    if not is_native(path) and not is_piston(path) and path not in ("/health", "/metrics"):
        statuses |= _judge0_statuses(path, method)
    if path == "/health":
        statuses = {503}
    if path == "/metrics":
        statuses = set()
    return statuses


def _judge0_statuses(path: str, method: str) -> set[int]:
    statuses: set[int] = set()
    if path.startswith("/submissions"):
        statuses |= {400, 503}
        if method == "post":
            statuses |= {422}
        if "{token}" in path or path == "/submissions/batch":
            statuses |= {404}
        if method == "delete" or (method == "get" and path == "/submissions"):
            statuses |= {403}
        if method == "delete":
            statuses |= {400}
    if path == "/languages/{language_id}":
        statuses |= {404}
    if path == "/authorize":
        statuses |= {403}
    return statuses


def _response(path: str, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": WHY[status]}
    if status in (429, 503):
        answer["headers"] = RETRY_AFTER
    if is_piston(path):
        answer["content"] = _json(PISTON_ERROR)
    elif is_native(path) or path in ("/health", "/metrics"):
        answer["content"] = _json(NATIVE_ERROR)
    elif status == 401:
        pass  # Judge0's 401 has no body
    elif status == 422:
        batch = path == "/submissions/batch"
        answer["content"] = _json(JUDGE0_BATCH_INVALID if batch else JUDGE0_INVALID)
    elif status != 403:
        answer["content"] = _json(JUDGE0_ERROR)
    return answer


def document_errors(schema: dict[str, Any]) -> None:
    """Adds every route's error answers (and their bodies) to an OpenAPI document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(SCHEMAS)
    # FastAPI's own 422 (its validation error) never reaches a client: ours answer 400.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            fastapi_422 = responses.get("422", {})
            if "HTTPValidationError" in str(fastapi_422):
                del responses["422"]
            for status in sorted(_statuses(path, method)):
                responses.setdefault(str(status), _response(path, status))
