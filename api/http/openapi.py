"""The OpenAPI document: error answers as application/problem+json, and the Bearer scheme on every route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with a builder that documents errors under their real media type."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                _document(path, method, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _header(name: str, description: str, **constraints: Any) -> dict[str, Any]:
    schema = {"type": "string", **constraints}
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


# The same limits the middleware and `api.http.commands` enforce, so that clients generated from the document comply.
REQUEST_ID = _header(
    "X-Request-Id",
    "Echoed back; generated when absent; stored with the events.",
    minLength=1,
    maxLength=200,
    pattern=r"^[\x20-\x7e]{1,200}$",
)
REASON = _header("X-Reason", "Why: stored with the events as the audit's `reason`.", maxLength=500)
IDEMPOTENCY_KEY = _header(
    "Idempotency-Key",
    "R-X3: the same key and request answer the first answer; kept at least 24 h.",
    minLength=1,
    maxLength=255,
    pattern=r"^[\x21-\x7e]{1,255}$",
)
POSITION = {"description": "The global position of the command's last event", "schema": {"type": "integer"}}


def _document(path: str, method: str, operation: dict[str, Any]) -> None:
    """Errors under application/problem+json; the request headers of API.md's conventions; X-Position."""
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        if status[:1] in ("4", "5") and "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")
    if not path.startswith("/v1/"):
        return
    parameters = operation.setdefault("parameters", [])
    parameters.append(REQUEST_ID)
    if method in ("post", "put", "delete") and not path.endswith("/check"):
        parameters += [REASON, IDEMPOTENCY_KEY]
        for status, response in operation.get("responses", {}).items():
            if status[:1] == "2":
                response.setdefault("headers", {})["X-Position"] = POSITION
