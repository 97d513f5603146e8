"""The audit trail (R-L1…R-L4): filtered pages, streamed exports, chain verification."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api.http.commands import json_answer
from api.http.deps import ReadAccess, blocking
from api.http.routing import READ_ERRORS, Cursor, Limit, page
from api.http.schemas.requests import Instant
from api.http.schemas.resources import AuditEntry, Page, Verification
from api.http.streaming import stream_from_thread

router = APIRouter(tags=["audit"])

Since = Annotated[Instant | None, Query(description="occurred_at ≥ since")]
Until = Annotated[Instant | None, Query(description="occurred_at < until")]
Actor = Annotated[str | None, Query(max_length=128, description="user id, operator or system")]
Subject = Annotated[str | None, Query(max_length=128, description="the user an event concerns")]
Types = Annotated[list[str] | None, Query(alias="type", description="event types; repeat for several")]
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get(
    "/v1/tenants/{tenant_id}/audit", response_model=Page[AuditEntry], responses=READ_ERRORS, summary="Audit trail"
)
async def audit(
    access: ReadAccess,
    since: Since = None,
    until: Until = None,
    actor: Actor = None,
    subject: Subject = None,
    types: Types = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """R-L4: entries in order, filtered by time, actor, subject and event types. audit.read, operator."""
    await access.require("audit.read")
    items, next_cursor = await blocking(
        access.services.queries.audit,
        access.tenant_id,
        since=since,
        until=until,
        actor=actor,
        subject=subject,
        types=types or None,
        cursor=cursor,
        limit=limit,
    )
    return json_answer(200, page(items, next_cursor), None)


@router.get(
    "/v1/tenants/{tenant_id}/audit/export",
    responses={
        **READ_ERRORS,
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "A streamed file"},
    },
    response_class=StreamingResponse,
    summary="Export the audit trail",
)
async def export(
    access: ReadAccess,
    since: Since = None,
    until: Until = None,
    actor: Actor = None,
    subject: Subject = None,
    types: Types = None,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
) -> Response:
    """R-L4: every matching entry as JSON Lines or CSV, streamed in constant memory. audit.read, operator."""
    await access.require("audit.read")
    queries = access.services.queries

    def rows():  # noqa: ANN202
        return queries.audit_export(
            access.tenant_id, format, since=since, until=until, actor=actor, subject=subject, types=types or None
        )

    body = await stream_from_thread(rows)
    filename = f"audit-{access.tenant_id}.{format}"
    return StreamingResponse(
        body, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/v1/tenants/{tenant_id}/audit/verify",
    response_model=Verification,
    responses=READ_ERRORS,
    summary="Verify the chain",
)
async def verify(access: ReadAccess) -> Response:
    """R-L2: recompute the tenant's hash chain against the event store; names the first entry that differs."""
    await access.require("audit.read")
    return json_answer(200, await blocking(access.services.queries.audit_verify, access.tenant_id), None)
