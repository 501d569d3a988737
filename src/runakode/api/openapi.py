from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

OPENAPI_REF = "#/components/schemas/{model}"


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


def install_openapi(app: FastAPI, body_models: tuple[type[BaseModel], ...]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in body_models:
                nested = model.model_json_schema(ref_template=OPENAPI_REF).get("$defs", {})
                for name, definition in nested.items():
                    components.setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
