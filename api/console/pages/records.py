"""The compliance pages: audit trail (R-L4 filters, paging, exports, verification), access report (R-L5) with a
CSV download, diff between two dates (R-R2) and "why" (an explained check, R-C2/R-C3)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.console.guard import body, parsed, tenant_access
from api.console.params import checked, day_value, field_value, instant, text
from api.console.render import page, render
from api.http.deps import blocking
from api.http.routes import access as access_routes
from api.http.routes import audit as audit_routes
from api.http.routes import members as member_routes
from api.http.routing import resource_pair
from api.http.schemas.requests import BatchCheckIn
from domain.errors import validation
from domain.permissions import CATALOG
from projections.audit.projection import event_types

router = APIRouter(include_in_schema=False)
PAGE_SIZES = (25, 50, 100, 250)


def _audit_filters(access: Any, params: dict[str, Any]) -> dict[str, Any]:
    now = access.services.now()
    types = [t for t in params["type"] or [] if t]
    return {
        "since": instant(params["since"], "since", now, start_of_day=True),
        "until": instant(params["until"], "until", now),
        "actor": checked(params["actor"], "user_id") if text(params["actor"]) else None,
        "subject": checked(params["subject"], "user_id") if text(params["subject"]) else None,
        "types": types or None,
    }


@router.get("/console/t/{tenant_id}/audit")
@page
async def audit(
    request: Request,
    tenant_id: str,
    since: str | None = None,
    until: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    type: Annotated[list[str] | None, Query()] = None,
    cursor: str | None = None,
    limit: str = "50",
    verify: str | None = None,
) -> Response:
    """R-L4 through the API's audit route (audit.read, operator); `verify` recomputes the chain (R-L2)."""
    access = await tenant_access(request, tenant_id)
    raw = {"since": since, "until": until, "actor": actor, "subject": subject, "type": type}
    filters = _audit_filters(access, raw)
    if limit not in map(str, PAGE_SIZES):
        raise validation(f"limit is one of {', '.join(map(str, PAGE_SIZES))}", ("query", "limit"))
    answer = await body(audit_routes.audit(access, cursor=cursor, limit=int(limit), **filters))
    verification = await body(audit_routes.verify(access)) if verify else None
    shown = {k: text(v) for k, v in raw.items() if k != "type"}
    return render(
        request,
        "audit.html",
        tenant_id=tenant_id,
        entries=answer["items"],
        next_cursor=answer["next_cursor"],
        filters={**shown, "type": filters["types"] or [], "limit": int(limit)},
        event_types=sorted(event_types()),
        verification=verification,
        page_sizes=PAGE_SIZES,
    )


@router.get("/console/t/{tenant_id}/audit/export")
@page
async def export(
    request: Request,
    tenant_id: str,
    format: str = "csv",
    since: str | None = None,
    until: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    type: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The current filter as a JSON Lines or CSV file: the API's own streamed export."""
    access = await tenant_access(request, tenant_id)
    if format not in ("jsonl", "csv"):
        raise validation("format is jsonl or csv", ("query", "format"))
    filters = _audit_filters(access, {"since": since, "until": until, "actor": actor, "subject": subject, "type": type})
    return await audit_routes.export(access, format=format, **filters)


@router.get("/console/t/{tenant_id}/access-report")
@page
async def access_report(request: Request, tenant_id: str, as_of: str | None = None, format: str = "html") -> Response:
    """R-L5 as of a date picked in a calendar field; `format=csv` is the API's CSV, as a download."""
    access = await tenant_access(request, tenant_id)
    at = instant(as_of, "as_of", access.services.now())
    if format == "csv":
        return await access_routes.access_report(access, as_of=at, format="csv")
    report = await body(access_routes.access_report(access, as_of=at, format="json"))
    return render(
        request,
        "access_report.html",
        tenant_id=tenant_id,
        report=report,
        as_of_day=day_value(at),
        as_of_raw=text(as_of),
    )


@router.get("/console/t/{tenant_id}/diff")
@page
async def diff(
    request: Request, tenant_id: str, from_: Annotated[str | None, Query(alias="from")] = None, to: str | None = None
) -> Response:
    """Who gained or lost what between two dates (Queries.diff, as `replay diff`), grouped by member. It shows
    every member's permissions, so it asks what the access report asks: audit.read (or the operator)."""
    access = await tenant_access(request, tenant_id)
    now = access.services.now()
    start, end = instant(from_, "from", now, start_of_day=True), instant(to, "to", now)
    await access.require("audit.read")
    by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if start is not None or end is not None:
        if start is None or end is None:
            raise validation("give both from and to", ("query", "from" if start is None else "to"))
        changes = await blocking(access.services.queries.diff, tenant_id, start, end, now)
        for change in changes:
            by_member[change["user_id"]].append(change)
    return render(
        request,
        "diff.html",
        tenant_id=tenant_id,
        by_member=dict(sorted(by_member.items())),
        asked=start is not None,
        start=start,
        end=end,
        from_day=text(from_) or "",
        to_day=text(to) or "",
    )


async def _everyone(access: Any, permission: str, resource: dict[str, str] | None, at: Any) -> list[dict[str, Any]]:
    """ "Who could?": the members of that instant, each checked by the API's batch check (1,000 at most)."""
    members = await body(
        member_routes.list_members(access, role=None, status="active", as_of=at, cursor=None, limit=1000)
    )
    checks = [{"user_id": m["user_id"], "permission": permission, "resource": resource} for m in members["items"]]
    if not checks:
        return []
    results = await body(access_routes.check_many(parsed(BatchCheckIn, checks=checks, as_of=at), access))
    return [{"member": m, **d} for m, d in zip(members["items"], results["results"], strict=True)]


@router.get("/console/t/{tenant_id}/why")
@page
async def why(
    request: Request,
    tenant_id: str,
    user_id: str | None = None,
    permission: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    as_of: str | None = None,
) -> Response:
    """An explained check through the API's explain route (users.manage, audit.read, operator); without a user id,
    every member of that instant checked at once ("who could see lead L-17 on 1 March?")."""
    access = await tenant_access(request, tenant_id)
    at = instant(as_of, "as_of", access.services.now())
    # The empty form too is for those who may ask (the explain route's own permissions), not only its answer.
    await access.require("users.manage", "audit.read")
    answer = everyone = None
    if text(permission):
        wanted = checked(permission, "permission", required=True)
        rtype, rid = checked(resource_type, "resource_type"), checked(resource_id, "resource_id")
        if text(user_id):
            user = checked(user_id, "user_id", required=True)
            answer = await body(
                access_routes.explain(
                    access, user_id=user, permission=wanted, resource_type=rtype, resource_id=rid, as_of=at
                )
            )
        else:
            resource = resource_pair(rtype, rid)
            ref = None if resource is None else {"type": resource[0], "id": resource[1]}
            everyone = await _everyone(access, wanted, ref, at)
    return render(
        request,
        "why.html",
        tenant_id=tenant_id,
        answer=answer,
        everyone=everyone,
        asked={
            "user_id": text(user_id) or "",
            "permission": text(permission) or "",
            "resource_type": text(resource_type) or "",
            "resource_id": text(resource_id) or "",
            "as_of": field_value(at),
        },
        permissions=list(CATALOG),
    )
