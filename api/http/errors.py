"""Every error as `application/problem+json` (RFC 9457) with API.md's machine-readable `code`."""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError

log = logging.getLogger("accessledger.api")

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "1"

# Codes for statuses that do not come from the domain (routing and transport errors).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "unavailable",
}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None, **fields: Any) -> JSONResponse:
    """A problem+json response; `fields` are extension members such as `missing_permission` or `errors`."""
    body = {
        "type": f"urn:accessledger:problem:{code}",
        "title": _title(status, code),
        "status": status,
        "detail": detail,
        "code": code,
        **{k: v for k, v in fields.items() if v is not None},
    }
    all_headers = dict(headers or {})
    if status == 503:
        all_headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=all_headers)


def _title(status: int, code: str) -> str:
    return code.replace("_", " ").capitalize()


def domain_problem(error: DomainError) -> JSONResponse:
    """The answer for a rejected command or query."""
    headers = {"WWW-Authenticate": "Bearer"} if error.code == "unauthenticated" else None
    return problem(error.status, error.code, error.detail, headers=headers, **error.fields)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """pydantic's errors as API.md's `[{loc, msg}]` (locations as lists of names and indexes)."""
    return [
        {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], "msg": e["msg"]} for e in errors
    ]


def is_database_down(exc: BaseException) -> bool:
    """True for errors that mean the database cannot be reached right now (503, retry later)."""
    if isinstance(exc, DomainError):
        return exc.code == "unavailable"
    names = {cls.__module__.split(".")[0] + "." + cls.__name__ for cls in type(exc).__mro__}
    if names & {
        "psycopg.OperationalError",
        "psycopg.InterfaceError",
        "psycopg_pool.PoolTimeout",
        "psycopg_pool.PoolClosed",
        "eventsourcing.OperationalError",
        "eventsourcing.InterfaceError",
    }:
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        return "locked" in text or "unable to open" in text or "disk I/O" in text
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_database_down(cause)


def unexpected_problem(exc: BaseException) -> JSONResponse:
    """A 503 when the database is unreachable, else a 500; both as problem+json."""
    if is_database_down(exc):
        log.warning("database unavailable: %s", exc)
        return problem(503, "unavailable", "the database is unreachable; retry shortly")
    log.exception("unexpected error", exc_info=exc)
    return problem(500, "internal_error", "an unexpected error occurred; nothing more is known to the client")


async def _on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
    return domain_problem(exc)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = validation_errors(exc.errors())
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5]) or "invalid request"
    return problem(422, "validation_error", detail, errors=errors)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404:
        detail = "no such route or resource"
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return problem(exc.status_code, code, detail, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the app can raise to problem+json (unexpected ones are caught in the middleware)."""
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
