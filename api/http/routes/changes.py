"""The change feed (R-C5): JSON pages with a long poll, or a server-sent event stream resumed from Last-Event-ID.

Waiting holds no worker thread and sends no query: a reader parks on its tenant's wake-up
(`projections.changes.signals`), which the process's position watch sets when that tenant's events are projected,
here or (PostgreSQL NOTIFY) by another process; then it reads once."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.http.commands import json_answer
from api.http.deps import ReadAccess, blocking
from api.http.routing import READ_ERRORS, Limit
from api.http.schemas.integrations import ChangePage
from api.http.schemas.requests import Permission, UserId
from domain.errors import validation
from projections.changes.signals import signals_for

router = APIRouter(tags=["lookups and changes"])

MAX_WAIT = 30
KEEPALIVE = 15.0  # seconds between comments on an idle stream, so proxies keep it open
_EVENT_ID = re.compile(r"^(\d{1,18}):(\d{1,9})$")


def _resume_point(after: int, last_event_id: str | None) -> tuple[int, int | None]:
    """Where a stream starts: after `Last-Event-ID` (`<position>:<index>`) when given, else after `after`."""
    if last_event_id is None:
        return after, None
    match = _EVENT_ID.match(last_event_id.strip())
    if match is None:
        raise validation("Last-Event-ID is <position>:<index>", ("header", "Last-Event-ID"))
    return int(match.group(1)), int(match.group(2))


@router.get(
    "/v1/tenants/{tenant_id}/changes",
    response_model=ChangePage,
    responses={
        **READ_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent Change events"},
    },
    summary="Change feed",
)
async def changes(
    request: Request,
    access: ReadAccess,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="A position: entries after it.")] = 0,
    user_id: Annotated[UserId | None, Query()] = None,
    permission: Annotated[Permission | None, Query()] = None,
    limit: Limit = 100,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="Seconds to wait for an entry (long poll).")] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """R-C5: every change of effective access after `after`, in order, whole events at a time; `next_after` is
    the position to pass next. With `Accept: text/event-stream`, a stream of `Change` events (id
    `<position>:<index>`) that resumes from Last-Event-ID. audit.read, operator."""
    services = access.services
    await access.require("audit.read")
    queries, tenant_id = services.queries, access.tenant_id
    signals = signals_for(services.read_watch)
    if "text/event-stream" in request.headers.get("accept", ""):
        start, index = _resume_point(after, last_event_id)
        await blocking(queries.changes, tenant_id, start, user_id, permission, 1, index)  # 404/422 before streaming
        return StreamingResponse(
            _stream(queries, signals, tenant_id, start, index, user_id, permission, limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    deadline = time.monotonic() + wait
    with signals.watching(tenant_id) as moved:
        answer = await blocking(queries.changes, tenant_id, after, user_id, permission, limit)
        while not answer["items"] and (remaining := deadline - time.monotonic()) > 0:
            if await moved.wait(remaining):
                answer = await blocking(queries.changes, tenant_id, after, user_id, permission, limit)
    return json_answer(200, answer, None)


def _sse_page(
    queries: Any,
    tenant_id: str,
    after: int,
    index: int | None,
    user_id: str | None,
    permission: str | None,
    limit: int,
) -> tuple[bytes, int, int | None, bool]:
    """One page as server-sent events (encoded in the worker thread, once for every reader sharing it): (bytes,
    last position, last index, full?)."""
    items = queries.changes(tenant_id, after, user_id, permission, limit, index)["items"]
    parts = []
    for item in items:
        data = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        parts.append(f"id: {item['position']}:{item['index']}\nevent: change\ndata: {data}\n\n")
    if items:
        after, index = items[-1]["position"], items[-1]["index"]
    return "".join(parts).encode(), after, index, len(items) >= limit


async def _stream(
    queries: Any,
    signals: Any,
    tenant_id: str,
    after: int,
    index: int | None,
    user_id: str | None,
    permission: str | None,
    limit: int,
) -> AsyncIterator[bytes]:
    # Readers at the same point share one read and its encoding (`FeedSignals.shared`); a page that was not full
    # holds everything projected before it was read, so the reader waits for the next wake-up instead of reading
    # again (registered before the read, the wake-up cannot be missed).
    with signals.watching(tenant_id) as moved:
        yield b"retry: 1000\n\n"
        while True:  # a client that leaves cancels this generator (StreamingResponse listens for the disconnect)
            key = (tenant_id, after, index, user_id, permission, limit)
            read = functools.partial(blocking, _sse_page, queries, tenant_id, after, index, user_id, permission, limit)
            body, after, index, full = await signals.shared(key, read)
            if body:
                yield body
            if full:
                continue
            if not await moved.wait(KEEPALIVE):
                yield b": keepalive\n\n"
