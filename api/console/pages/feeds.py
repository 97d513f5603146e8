"""The change feed (R-C5) as a live list: who gained or lost which permission, by which event, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.console.guard import body, tenant_access
from api.console.params import checked, text
from api.console.render import page, render
from api.http.routes import changes as change_routes
from domain.errors import validation

router = APIRouter(include_in_schema=False)
SHOWN = 100
PAGE = 1000
MAX_PAGES = 100  # the tail of a feed of up to 100,000 entries; beyond, the page says where it stopped
REFRESH_SECONDS = 30


async def _page(access: Any, after: int, user_id: str | None, permission: str | None, limit: int) -> dict[str, Any]:
    """One page of the API's change feed (audit.read, operator), without waiting."""
    return await body(
        change_routes.changes(
            access.request, access, after=after, user_id=user_id, permission=permission, limit=limit, wait=0
        )
    )


@router.get("/console/t/{tenant_id}/changes")
@page
async def changes(
    request: Request,
    tenant_id: str,
    after: str | None = None,
    user_id: str | None = None,
    permission: str | None = None,
) -> Response:
    """Without `after`: the latest entries, newest first, and the page refreshes itself (no script: a meta
    refresh). With `after`: the entries after that position, oldest first, as the API pages them."""
    access = await tenant_access(request, tenant_id)
    user = checked(user_id, "user_id") if text(user_id) else None
    wanted = checked(permission, "permission") if text(permission) else None
    live = text(after) is None
    if live:
        entries: list[dict[str, Any]] = []
        position, complete = 0, False
        for _ in range(MAX_PAGES):
            answer = await _page(access, position, user, wanted, PAGE)
            entries = (entries + answer["items"])[-SHOWN:]
            if not answer["items"] or answer["next_after"] == position:
                complete = True
                break
            position = answer["next_after"]
        entries.reverse()
        next_after = position
    else:
        try:
            start = int(text(after) or "")
        except ValueError:
            raise validation("after is a position (a whole number ≥ 0)", ("query", "after")) from None
        if start < 0:
            raise validation("after is a position (a whole number ≥ 0)", ("query", "after"))
        answer = await _page(access, start, user, wanted, SHOWN)
        entries, next_after, complete = answer["items"], answer["next_after"], True
    return render(
        request,
        "changes.html",
        tenant_id=tenant_id,
        entries=entries,
        live=live,
        complete=complete,
        next_after=next_after,
        user_id=text(user_id) or "",
        permission=text(permission) or "",
        refresh=REFRESH_SECONDS,
    )
