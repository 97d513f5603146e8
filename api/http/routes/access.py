"""Checks, explanations and access reports (R-C1…R-C3, R-L5), now or as of any past instant."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.http.commands import json_answer
from api.http.deps import ReadAccess, TenantAccess, blocking
from api.http.routing import READ_ERRORS, AsOf, check_as_of, resource_pair
from api.http.schemas.requests import BatchCheckIn, Permission, ResourceId, ResourceType, UserId
from api.http.schemas.resources import AccessReport, CheckResults, Decision, Explanation
from projections.safe_output import csv_row

router = APIRouter(tags=["checks and reports"])

CheckUser = Annotated[UserId, Query(description="Whose access to check.")]
CheckPermission = Annotated[Permission, Query()]
OptionalType = Annotated[ResourceType | None, Query()]
OptionalId = Annotated[ResourceId | None, Query()]


async def _may_check_others(access: TenantAccess) -> bool:
    return access.principal.is_operator or await access.holds("users.manage") or await access.holds("audit.read")


@router.get("/v1/tenants/{tenant_id}/check", response_model=Decision, responses=READ_ERRORS, summary="Check")
async def check(
    access: ReadAccess,
    user_id: CheckUser,
    permission: CheckPermission,
    resource_type: OptionalType = None,
    resource_id: OptionalId = None,
    as_of: AsOf = None,
) -> Response:
    """R-C1/R-C2: allowed or not, why, and through what; `not_a_member` for a non-member. The user itself,
    users.manage, audit.read, operator."""
    services = access.services
    resource = resource_pair(resource_type, resource_id)
    check_as_of(as_of, services.now())
    await access.require("users.manage", "audit.read", itself=user_id)
    queries, now = services.queries, services.now()
    decision = queries.peek_check(access.tenant_id, user_id, permission, resource, as_of, now) or await blocking(
        queries.check, access.tenant_id, user_id, permission, resource, as_of, now
    )
    return json_answer(200, decision, None)


@router.post("/v1/tenants/{tenant_id}/check", response_model=CheckResults, responses=READ_ERRORS, summary="Batch check")
async def check_many(body: BatchCheckIn, access: ReadAccess) -> Response:
    """Up to 1,000 checks in one call, all at the same instant. A query: it records nothing, so an
    Idempotency-Key has no effect here."""
    services = access.services
    check_as_of(body.as_of, services.now())
    if any(c.user_id != access.user_id for c in body.checks) and not await _may_check_others(access):
        await access.require("users.manage", "audit.read")
    checks = [(c.user_id, c.permission, (c.resource.type, c.resource.id) if c.resource else None) for c in body.checks]
    results = await blocking(services.queries.check_many, access.tenant_id, checks, body.as_of, services.now())
    return json_answer(200, {"results": results}, None)


@router.get("/v1/tenants/{tenant_id}/explain", response_model=Explanation, responses=READ_ERRORS, summary="Explain")
async def explain(
    access: ReadAccess,
    user_id: CheckUser,
    permission: CheckPermission,
    resource_type: OptionalType = None,
    resource_id: OptionalId = None,
    as_of: AsOf = None,
) -> Response:
    """A decision with the audit entries of the events that gave or took the access. users.manage, audit.read,
    operator."""
    services = access.services
    resource = resource_pair(resource_type, resource_id)
    check_as_of(as_of, services.now())
    await access.require("users.manage", "audit.read")
    body = await blocking(
        services.queries.explain, access.tenant_id, user_id, permission, resource, as_of, services.now()
    )
    return json_answer(200, body, None)


REPORT_COLUMNS = ("user_id", "email", "name", "role", "permission", "scope", "resources", "restricted")


def _restricted(held: dict[str, Any]) -> str:
    """Narrower restrictions of a held permission (R-P8), `restr_1 team;restr_2 resource lead:L-1`."""
    out = []
    for r in held.get("restrictions") or []:
        where = f" {r['resource']['type']}:{r['resource']['id']}" if r.get("resource") else ""
        out.append(f"{r['restriction_id']} {r['scope']}{where}")
    return ";".join(out)


def report_csv(report: dict[str, Any]) -> str:
    """One row per member and permission (a member without any gets one row with empty permission)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for member in report["members"]:
        person = [member["user_id"], member["email"], member["name"], member["role"]]
        if not member["permissions"]:
            writer.writerow(csv_row([*person, "", "", "", ""]))  # R-X7: no cell runs as a formula
        for held in member["permissions"]:
            resources = ";".join(f"{r['type']}:{r['id']}" for r in held.get("resources") or [])
            writer.writerow(csv_row([*person, held["permission"], held["scope"], resources, _restricted(held)]))
    return out.getvalue()


@router.get(
    "/v1/tenants/{tenant_id}/access-report",
    response_model=AccessReport,
    responses={**READ_ERRORS, 200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
    summary="Access report",
)
async def access_report(
    access: ReadAccess, as_of: AsOf = None, format: Annotated[Literal["json", "csv"], Query()] = "json"
) -> Response:
    """R-L5: every member, their role and effective permissions with scopes, as of an instant. audit.read,
    operator."""
    services = access.services
    check_as_of(as_of, services.now())
    await access.require("audit.read")
    report = await blocking(services.queries.access_report, access.tenant_id, as_of=as_of, now=services.now())
    if format == "csv":
        filename = f"access-report-{access.tenant_id}.csv"
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return json_answer(200, report, None)
