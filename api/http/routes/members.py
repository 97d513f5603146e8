"""Members, their roles, reporting lines, effective permissions and API tokens (R-M1…R-M4, R-H1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.http.commands import execute, json_answer, tenant_command
from api.http.deps import ReadAccess, WriteAccess, blocking
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, AsOf, Cursor, Limit, check_as_of, found, page
from api.http.schemas.requests import AddMemberIn, ManagerIn, RoleChangeIn, TokenIn
from api.http.schemas.resources import (
    EffectivePermissions,
    Member,
    MemberChanged,
    MemberCreated,
    Page,
    Positioned,
    TokenCreated,
)
from domain.errors import DomainError

router = APIRouter(tags=["members"])
# Served once the ledger records reporting lines (issue 6); see `api.http.app`.
manager_commands = APIRouter(tags=["members"])

MEMBER = "/v1/tenants/{tenant_id}/members/{user_id}"


def member_of(access: Any, user_id: str) -> dict[str, Any]:
    return found(access.services.queries.member(access.tenant_id, user_id), "member", user_id)


@router.get("/v1/tenants/{tenant_id}/members", response_model=Page[Member], responses=READ_ERRORS, summary="Members")
async def list_members(
    access: ReadAccess,
    role: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["active", "removed", "all"] = "active",
    as_of: AsOf = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Members in seat order, optionally by role, status, or as of a past instant (R-C3). Any member."""
    check_as_of(as_of, access.services.now())
    items, next_cursor = await blocking(
        access.services.queries.members,
        access.tenant_id,
        role=role,
        status=status,
        as_of=as_of,
        cursor=cursor,
        limit=limit,
        now=access.services.now(),
    )
    return json_answer(200, page(items, next_cursor), None)


@router.get(MEMBER, response_model=Member, responses=READ_ERRORS, summary="A member")
async def get_member(access: ReadAccess, user_id: str) -> Response:
    """The latest membership of this user id, active or removed. Any member."""
    return json_answer(200, await blocking(member_of, access, user_id), None)


@router.post(
    "/v1/tenants/{tenant_id}/members",
    status_code=201,
    response_model=MemberCreated,
    responses=COMMAND_ERRORS,
    summary="Add a member",
)
async def add_member(body: AddMemberIn, access: WriteAccess) -> Response:
    """R-M2 by users.manage (R-P6, R-S1); the member's API token is in the answer, once."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "users.manage",
        lambda actor: ledger.add_member(access.tenant_id, actor, **body.model_dump()),
        lambda result: {"member": member_of(access, body.user_id), "token": result.values["token"]},
        201,
    )


@router.put(MEMBER + "/role", response_model=MemberChanged, responses=COMMAND_ERRORS, summary="Change a role")
async def change_role(body: RoleChangeIn, access: WriteAccess, user_id: str) -> Response:
    """R-M3 by users.manage, never to or from owner (R-T2), no escalation (R-P6), min_admins (R-M4)."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "users.manage",
        lambda actor: ledger.change_role(access.tenant_id, actor, user_id, body.role),
        lambda _: {"member": member_of(access, user_id)},
    )


@router.delete(MEMBER, response_model=Positioned, responses=COMMAND_ERRORS, summary="Remove a member, or leave")
async def remove_member(access: WriteAccess, user_id: str) -> Response:
    """R-M3 by users.manage, or the member itself leaving; never the owner. Assignments, grants, tokens go too."""
    ledger = access.services.ledger
    return await tenant_command(
        access, "users.manage", lambda actor: ledger.remove_member(access.tenant_id, actor, user_id), lambda _: {}
    )


@router.get(
    MEMBER + "/permissions", response_model=EffectivePermissions, responses=READ_ERRORS, summary="Effective permissions"
)
async def effective_permissions(access: ReadAccess, user_id: str, as_of: AsOf = None) -> Response:
    """Every permission the member holds, with scopes, now or as of an instant. The user itself, users.manage,
    audit.read."""
    check_as_of(as_of, access.services.now())
    await access.require("users.manage", "audit.read", itself=user_id)
    body = await blocking(
        access.services.queries.effective_permissions, access.tenant_id, user_id, as_of=as_of, now=access.services.now()
    )
    return json_answer(200, body, None)


@manager_commands.put(
    MEMBER + "/manager", response_model=MemberChanged, responses=COMMAND_ERRORS, summary="Set a reporting line"
)
async def set_manager(body: ManagerIn, access: WriteAccess, user_id: str) -> Response:
    """R-H1 by users.manage: `reports_to` another member, or null for the owner; no cycles."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "users.manage",
        lambda actor: ledger.set_manager(access.tenant_id, actor, user_id, body.reports_to),
        lambda _: {"member": member_of(access, user_id)},
    )


@router.get(MEMBER + "/team", response_model=Page[Member], responses=READ_ERRORS, summary="A member's team")
async def team(
    access: ReadAccess, user_id: str, as_of: AsOf = None, cursor: Cursor = None, limit: Limit = 100
) -> Response:
    """Every member below `user_id`, transitively (R-H1). The user itself, users.manage, audit.read."""
    check_as_of(as_of, access.services.now())
    await access.require("users.manage", "audit.read", itself=user_id)
    items, next_cursor = await blocking(
        access.services.queries.team,
        access.tenant_id,
        user_id,
        as_of=as_of,
        cursor=cursor,
        limit=limit,
        now=access.services.now(),
    )
    return json_answer(200, page(items, next_cursor), None)


@router.post(
    "/v1/tenants/{tenant_id}/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses=COMMAND_ERRORS,
    summary="Issue an API token for yourself",
)
async def issue_token(access: WriteAccess, body: TokenIn | None = None) -> Response:
    """A member issues itself another token; it is in the answer, once."""
    ledger = access.services.ledger
    label = body.label if body else None
    return await tenant_command(
        access,
        None,
        lambda actor: ledger.issue_token(access.tenant_id, actor, label),
        lambda result: {"token_id": result.values["token_id"], "token": result.values["token"]},
        201,
    )


@router.delete(
    "/v1/tenants/{tenant_id}/tokens/{token_id}",
    response_model=Positioned,
    responses=COMMAND_ERRORS,
    summary="Revoke a token",
)
async def revoke_token(access: WriteAccess, token_id: str) -> Response:
    """Its member, or users.manage."""
    ledger = access.services.ledger
    return await tenant_command(
        access, "users.manage", lambda actor: ledger.revoke_token(access.tenant_id, actor, token_id), lambda _: {}
    )


@router.post(
    "/v1/tenants/{tenant_id}/owner-token",
    status_code=201,
    response_model=TokenCreated,
    responses=COMMAND_ERRORS,
    summary="Issue the owner a new token (operator, R-T6)",
)
async def issue_owner_token(access: WriteAccess, body: TokenIn | None = None) -> Response:
    """Owner recovery: the operator issues a new owner token, with a reason in `X-Reason` (required); the owner's
    other tokens stay valid. Recorded as TokenIssued with actor `operator`."""
    if not access.principal.is_operator:
        raise DomainError("forbidden", "only the operator issues owner tokens")
    if not access.request.state.reason:
        raise DomainError(
            "validation_error",
            "X-Reason is required: say why the owner needs a new token",
            errors=[{"loc": ["header", "X-Reason"], "msg": "required"}],
        )
    ledger = access.services.ledger
    actor = access.actor()
    return await execute(
        access.services,
        access.request,
        access.principal.scope,
        lambda: ledger.issue_owner_token(access.tenant_id, actor, body.label if body else None),
        lambda result: {"token_id": result.values["token_id"], "token": result.values["token"]},
        201,
    )
