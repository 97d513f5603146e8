"""Small helpers shared by the routers: documented error answers, list pages, 404s, `as_of` checks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from api.http.schemas.requests import Instant
from api.http.schemas.resources import Problem
from domain.errors import DomainError, not_found, validation

_DESCRIPTIONS = {
    401: "unauthenticated: token missing, unknown or revoked",
    403: "forbidden (names missing_permission) or escalation",
    404: "not_found: no such thing, or it belongs to another tenant (R-X5)",
    409: "the command breaks a rule (its code names it), nothing was recorded; or tenant_closed (R-T5)",
    413: "payload_too_large: body over 1 MiB",
    422: "validation_error or idempotency_key_reused",
    503: "stale_read (min_position not reached in 5 s) or unavailable (database unreachable)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error answers (application/problem+json, see `api.http.openapi`)."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in sorted(set(statuses))}


AsOf = Annotated[Instant | None, Query(description="An instant with a zone (R-C3); not after now.")]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000)]

READ_ERRORS = problems(401, 403, 404, 409, 422, 503)
COMMAND_ERRORS = problems(401, 403, 404, 409, 413, 422, 503)


def page(items: list[Any], next_cursor: str | None = None) -> dict[str, Any]:
    """API.md's list answer."""
    return {"items": items, "next_cursor": next_cursor}


def found(value: Any, what: str, ident: str) -> Any:
    """`value`, or 404 `not_found` when the read side has no such thing."""
    if value is None:
        raise not_found(what, ident)
    return value


def check_as_of(as_of: datetime | None, now: datetime) -> None:
    """R-C3: `as_of` after the clock's now is a validation error."""
    if as_of is not None and as_of > now:
        raise validation(f"as_of is after now ({now.isoformat()})", ("query", "as_of"))


def resource_pair(resource_type: str | None, resource_id: str | None, loc: str = "query") -> tuple[str, str] | None:
    """A resource from its two parameters; both or neither."""
    if resource_type is None and resource_id is None:
        return None
    if resource_type is None or resource_id is None:
        raise DomainError(
            "validation_error",
            "give both resource_type and resource_id, or neither",
            errors=[{"loc": [loc, "resource_type" if resource_type is None else "resource_id"], "msg": "missing"}],
        )
    return (resource_type, resource_id)
