from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from runakode.api import openapi_bodies
from runakode.api.openapi_errors import document_errors
from runakode.config import Settings

OPENAPI_REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Runs untrusted programs, each in a fresh gVisor sandbox. Three families of routes: runakode's
own (`/api`, `/execute`), Judge0 CE's (at the root: `/submissions`, `/languages`, ...) and
Piston's (`/api/v2`, `/api/v1/piston`). The page at `/` is the playground.

**WebSockets** (not listed below, which OpenAPI cannot describe):

- `GET /api/ws`: a live run. The first text frame is a `POST /api` body with `"type": "run"`;
  the server then sends JSON frames `started` `{language, version}`, `stage` `{stage}`,
  `output` `{stage, stream, data}`, `exit` `{stage, status, exit_code, signal, wall_time_ms,
  cpu_time_ms, memory_kb, ...}` and last `finished` `{result}` (a `POST /api` answer), then
  closes with 1000. While it runs the client may send `{"type": "stdin", "data": "..."}`,
  `{"type": "close_stdin"}` and `{"type": "signal", "signal": "SIGINT"}`. A problem is an
  `{"type": "error", "code", "message"}` frame, then close 1008 (bad message), 1013 (busy or
  unreachable, try later) or 1011 (the service failed).
- `GET /api/v2/connect`: Piston's interactive protocol: `init`, `data`, `signal` from the client;
  `runtime`, `stage`, `data`, `exit`, `error` from the server; close codes 4000-4005 and 4999.

Piston's execute routes also take their body form-encoded (`files[0][content]=...`), as
Piston's most used clients send it.

API keys (when configured) go in `X-Auth-Token` (or `Authorization: Bearer`), or, for a
WebSocket from a browser, the `X-Auth-Token` query parameter.
"""


def request_schema(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """The documented body of a route that parses its body itself (for 400s in our own words).

    Nested models are referenced under components/schemas, where openapi() puts them.
    """
    schema = model.model_json_schema(ref_template=OPENAPI_REF)
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


def install_openapi(
    app: FastAPI, body_models: tuple[type[BaseModel], ...], settings: Settings
) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=DESCRIPTION
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in body_models:
                nested = model.model_json_schema(ref_template=OPENAPI_REF).get("$defs", {})
                for name, definition in nested.items():
                    components.setdefault(name, definition)
            _describe_bodies(schema, settings)
            _describe_special_answers(schema)
            document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _body(schema: dict[str, Any], path: str, method: str = "post") -> dict[str, Any] | None:
    operation = schema.get("paths", {}).get(path, {}).get(method)
    if operation is None:
        return None
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return content.get("schema") if content else None


def _set_body(schema: dict[str, Any], path: str, body: dict[str, Any]) -> None:
    operation = schema.get("paths", {}).get(path, {}).get("post")
    if operation is not None:
        content = {"application/json": {"schema": body}}
        operation["requestBody"] = {"required": True, "content": content}


def _describe_bodies(schema: dict[str, Any], settings: Settings) -> None:
    components = schema["components"]["schemas"]
    if (run_body := _body(schema, "/api")) is not None:
        openapi_bodies.native_run_body(settings, run_body)
    if (compat_body := _body(schema, "/execute")) is not None:
        openapi_bodies.native_compat_body(settings, compat_body)
    if "SourceFile" in components:
        openapi_bodies.native_file(components["SourceFile"])
    if "Limits" in components:
        openapi_bodies.native_limits(settings, components["Limits"])
    _set_body(schema, "/submissions", openapi_bodies.judge0_submission(settings))
    _set_body(schema, "/submissions/batch", openapi_bodies.judge0_batch(settings))
    for path in ("/api/v2/execute", "/api/v2/piston/execute"):
        _set_body(schema, path, openapi_bodies.piston_execute(settings))
    _set_body(schema, "/api/v1/piston/execute", openapi_bodies.piston_v1_execute(settings))
    batch_read = schema.get("paths", {}).get("/submissions/batch", {}).get("get")
    if batch_read is not None:
        batch_read["parameters"] = [
            {
                "name": "tokens",
                "in": "query",
                "required": True,
                "description": "Comma-separated tokens",
                "schema": {"type": "string", "pattern": r"\S"},
            }
        ]


def _describe_special_answers(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    if metrics := paths.get("/metrics", {}).get("get"):
        metrics["responses"]["200"] = {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    for path in ("/authenticate", "/authorize"):
        if operation := paths.get(path, {}).get("post"):
            operation["responses"]["200"] = {"description": "The key is accepted (no body)"}
