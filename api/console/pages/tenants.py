"""The operator's tenants page and a tenant's overview (plan, term, seats, add-ons, charges, R-S5, charts)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.console import charts
from api.console.guard import allowed, body, changing_form, reason_of, tenant_access
from api.console.render import page, render
from api.console.session import current
from api.http.deps import TenantAccess, blocking
from api.http.routes import audit as audit_routes
from api.http.routes import billing as billing_routes
from api.http.routes import tenants as tenant_routes
from api.runtime import Services
from domain.errors import DomainError
from projections.values import encode_cursor
from replay.state import sequence_at, state

router = APIRouter(include_in_schema=False)
SAMPLES = 24
HISTORY_DAYS = 365
CHANGE_DAYS = 30


def _last_activity(services: Services, tenant_id: str) -> str | None:
    """When the tenant's last audit entry took effect."""
    last = sequence_at(services.reads, tenant_id)
    if not last:
        return None
    items, _ = services.queries.audit(tenant_id, cursor=encode_cursor([last - 1]), limit=1)
    return items[0]["occurred_at"] if items else None


def _tenant_rows(services: Services) -> list[dict[str, Any]]:
    now = services.now()
    rows = []
    for tenant_id in services.queries.tenant_ids():
        tenant = services.queries.tenant(tenant_id, now)
        rows.append({**tenant, "last_activity": _last_activity(services, tenant_id)})
    return rows


@router.get("/console/tenants")
@page
async def tenants(request: Request) -> Response:
    """Every tenant, for the operator only (a member gets 403 as the API's operator routes answer)."""
    session = await current(request)
    if not session.principal.is_operator:
        raise DomainError("forbidden", "only the operator sees every tenant")
    rows = await blocking(_tenant_rows, request.app.state.services)
    return render(request, "tenants.html", tenants=rows)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seat_history(services: Services, tenant_id: str) -> dict[str, Any]:
    """The tenant folded at evenly spaced instants of the last year, or since it opened (replay.state: the domain's
    own counts), so a term's end (add-ons ending, members removed, R-S4) stays in sight after it passed."""
    end = services.now()
    first, _ = services.queries.audit(tenant_id, limit=1)
    start = max(end - timedelta(days=HISTORY_DAYS), _instant(first[0]["occurred_at"]) if first else end)
    step = (end - start) / (SAMPLES - 1) if end > start else timedelta(0)
    labels, capacity, used, members = [], [], [], []
    for i in range(SAMPLES if step else 1):
        at = start + step * i if step else end
        try:
            folded = state(services.ledger, services.reads, tenant_id, at=at)
        except DomainError:  # the tenant did not exist yet at that instant
            continue
        labels.append(at.strftime("%m-%d %H:%M" if step < timedelta(hours=6) else "%Y-%m-%d"))
        capacity.append(folded["seats"]["capacity"])
        used.append(folded["seats"]["used"])
        members.append(len(folded["members"]))
    return {"labels": labels, "capacity": capacity, "used": used, "members": members}


async def _changes_per_day(access: TenantAccess) -> dict[str, int] | None:
    """Audit entries per day over the last 30 days; None without audit.read."""
    since = access.services.now() - timedelta(days=CHANGE_DAYS)
    counts: Counter[str] = Counter()
    cursor = None
    for _ in range(20):  # at most 20,000 entries drawn
        answer = await allowed(audit_routes.audit(access, since=since, cursor=cursor, limit=1000))
        if answer is None:
            return None
        counts.update(item["occurred_at"][:10] for item in answer["items"])
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    days = [(since + timedelta(days=i)).date().isoformat() for i in range(1, CHANGE_DAYS + 1)]
    return {day: counts.get(day, 0) for day in days}


@router.get("/console/t/{tenant_id}")
@page
async def overview(request: Request, tenant_id: str, done: str | None = None) -> Response:
    access = await tenant_access(request, tenant_id)
    services = access.services
    tenant = await body(tenant_routes.get_tenant(access))
    addons = (await body(billing_routes.list_addons(access)))["items"]
    charges = await allowed(billing_routes.list_charges(access, cursor=None, limit=100))
    history = await blocking(_seat_history, services, tenant_id)
    seats_chart = charts.build(
        "Seats used and capacity, last 12 months",
        history["labels"],
        [
            charts.Series("capacity", "line-capacity", history["capacity"]),
            charts.Series("used", "line-used", history["used"]),
        ],
    )
    members_chart = charts.build(
        "Members, last 12 months",
        history["labels"],
        [charts.Series("members", "line-members", history["members"])],
    )
    per_day = await _changes_per_day(access)
    changes_chart = None
    if per_day is not None:
        changes_chart = charts.build(
            f"Changes (audit entries) per day, last {CHANGE_DAYS} days",
            [day[5:] for day in per_day],
            [charts.Series("changes", "bar-changes", list(per_day.values()))],
            kind="bar",
        )
    may_cancel = not access.principal.is_operator and await access.holds("addons.cancel")
    return render(
        request,
        "overview.html",
        tenant=tenant,
        tenant_id=tenant_id,
        addons=addons,
        charges=None if charges is None else charges["items"],
        charts=[c for c in (seats_chart, members_chart, changes_chart) if c is not None],
        changes_hidden=per_day is None,
        may_cancel=may_cancel,
        done=done,
    )


@router.post("/console/t/{tenant_id}/addons/{addon_id}/cancellation")
@page
async def cancel_addon(request: Request, tenant_id: str, addon_id: str) -> Response:
    """R-S3 through the API's own command (addons.cancel); the reason is stored as X-Reason."""
    _, form = await changing_form(request)
    access = await tenant_access(request, tenant_id)
    reason_of(request, form)
    await billing_routes.cancel_addon(access, addon_id)
    return RedirectResponse(f"/console/t/{tenant_id}?done=addon_cancelled", status_code=303)
