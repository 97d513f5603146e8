"""Members (as of a date), a member's page (role, grants, restrictions, assignments, team, timeline) and the admin
forms beside them: invite, change a role, revoke a grant, lift a restriction, each through the API's command."""

from __future__ import annotations

import heapq
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.console.guard import allowed, body, changing_form, parsed, reason_of, tenant_access
from api.console.params import day_value, instant
from api.console.render import page, render
from api.http.routes import audit as audit_routes
from api.http.routes import grants as grant_routes
from api.http.routes import invitations as invitation_routes
from api.http.routes import members as member_routes
from api.http.routes import resources as resource_routes
from api.http.routes import roles as role_routes
from api.http.schemas.requests import InviteIn, RoleChangeIn

router = APIRouter(include_in_schema=False)
TIMELINE = 200


@router.get("/console/t/{tenant_id}/members")
@page
async def members(
    request: Request, tenant_id: str, as_of: str | None = None, status: str = "active", cursor: str | None = None
) -> Response:
    """Members in seat order, now or as of a date (R-C3); the invite form for users.manage."""
    access = await tenant_access(request, tenant_id)
    at = instant(as_of, "as_of", access.services.now())
    listing = await body(
        member_routes.list_members(access, role=None, status=status, as_of=at, cursor=cursor, limit=100)
    )
    may_invite = not access.principal.is_operator and await access.holds("users.manage")
    roles = (await body(role_routes.list_roles(access)))["items"] if may_invite else []
    return render(
        request,
        "members.html",
        tenant_id=tenant_id,
        members=listing["items"],
        next_cursor=listing["next_cursor"],
        as_of=at,
        as_of_day=day_value(at),
        status=status,
        may_invite=may_invite,
        roles=roles,
    )


@router.post("/console/t/{tenant_id}/invitations")
@page
async def invite(request: Request, tenant_id: str) -> Response:
    """R-I1 through the API's command; the invitation token is shown once, on the answer page."""
    _, form = await changing_form(request)
    access = await tenant_access(request, tenant_id)
    reason_of(request, form)
    invitation = parsed(InviteIn, email=(form.get("email") or "").strip(), role=form.get("role") or "")
    answer = await body(invitation_routes.invite(invitation, access))
    return render(request, "invited.html", tenant_id=tenant_id, answer=answer)


async def _timeline(access: Any, user_id: str) -> list[dict[str, Any]] | None:
    """The latest entries the user caused or that concern them (audit.read), newest first."""
    by_actor = await allowed(audit_routes.audit(access, actor=user_id, limit=1000))
    if by_actor is None:
        return None
    about = await body(audit_routes.audit(access, subject=user_id, limit=1000))
    merged: dict[int, dict[str, Any]] = {
        e["sequence"]: e for e in heapq.merge(by_actor["items"], about["items"], key=lambda e: e["sequence"])
    }
    return [merged[s] for s in sorted(merged, reverse=True)[:TIMELINE]]


@router.get("/console/t/{tenant_id}/members/{user_id}")
@page
async def member(request: Request, tenant_id: str, user_id: str, done: str | None = None) -> Response:
    access = await tenant_access(request, tenant_id)
    person = await body(member_routes.get_member(access, user_id))
    permissions = await allowed(member_routes.effective_permissions(access, user_id, as_of=None))
    grants = await allowed(grant_routes.list_grants(access, user_id=user_id, status=None, cursor=None, limit=1000))
    restrictions = await allowed(
        grant_routes.list_restrictions(access, user_id=user_id, status=None, cursor=None, limit=1000)
    )
    assignments = await allowed(
        resource_routes.list_assignments(
            access, user_id=user_id, resource_type=None, as_of=None, cursor=None, limit=1000
        )
    )
    team = await allowed(member_routes.team(access, user_id, as_of=None, cursor=None, limit=1000))
    member_op = not access.principal.is_operator
    may_manage_users = member_op and await access.holds("users.manage")
    may_manage_permissions = member_op and await access.holds("permissions.manage")
    roles = (await body(role_routes.list_roles(access)))["items"] if may_manage_users else []
    return render(
        request,
        "member.html",
        tenant_id=tenant_id,
        member=person,
        permissions=permissions,
        grants=None if grants is None else grants["items"],
        restrictions=None if restrictions is None else restrictions["items"],
        assignments=None if assignments is None else assignments["items"],
        team=None if team is None else team["items"],
        timeline=await _timeline(access, user_id),
        may_manage_users=may_manage_users and person["status"] == "active",
        may_manage_permissions=may_manage_permissions,
        roles=roles,
        done=done,
    )


def _back(tenant_id: str, user_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/console/t/{tenant_id}/members/{user_id}?done={done}", status_code=303)


@router.post("/console/t/{tenant_id}/members/{user_id}/role")
@page
async def change_role(request: Request, tenant_id: str, user_id: str) -> Response:
    """R-M3 through the API's command (users.manage, R-T2, R-P6, R-M4)."""
    _, form = await changing_form(request)
    access = await tenant_access(request, tenant_id)
    reason_of(request, form)
    await member_routes.change_role(parsed(RoleChangeIn, role=form.get("role") or ""), access, user_id)
    return _back(tenant_id, user_id, "role_changed")


@router.post("/console/t/{tenant_id}/grants/{grant_id}/revocation")
@page
async def revoke_grant(request: Request, tenant_id: str, grant_id: str) -> Response:
    """R-G2 through the API's command (permissions.manage)."""
    _, form = await changing_form(request)
    access = await tenant_access(request, tenant_id)
    reason_of(request, form)
    answer = await body(grant_routes.revoke_grant(access, grant_id))
    return _back(tenant_id, answer["grant"]["user_id"], "grant_revoked")


@router.post("/console/t/{tenant_id}/restrictions/{restriction_id}/lifting")
@page
async def lift_restriction(request: Request, tenant_id: str, restriction_id: str) -> Response:
    """R-P8 through the API's command (permissions.manage)."""
    _, form = await changing_form(request)
    access = await tenant_access(request, tenant_id)
    reason_of(request, form)
    answer = await body(grant_routes.lift_restriction(access, restriction_id))
    return _back(tenant_id, answer["restriction"]["user_id"], "restriction_lifted")
