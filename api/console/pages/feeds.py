"""The change feed (R-C5) page."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.console.guard import tenant_access
from api.console.render import page, render

router = APIRouter(include_in_schema=False)


@router.get("/console/t/{tenant_id}/changes")
@page
async def changes(request: Request, tenant_id: str) -> Response:
    await tenant_access(request, tenant_id)
    return render(request, "unavailable.html", tenant_id=tenant_id, title="Changes", feature="the change feed (R-C5)")
