"""Direct grants (R-G1, R-G2, R-P9) and restrictions (R-P8), both by permissions.manage under R-P6."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.http.commands import json_answer, tenant_command
from api.http.deps import ReadAccess, TenantAccess, WriteAccess, blocking
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, Cursor, Limit, found, page
from api.http.schemas.requests import GrantIn, RestrictionIn, UserId
from api.http.schemas.resources import Grant, GrantChanged, Page, Restriction, RestrictionChanged
from domain.application import CommandResult

router = APIRouter(tags=["grants and restrictions"])
# Served once the ledger records restrictions (issue 6); see `api.http.app`.
restriction_commands = APIRouter(tags=["grants and restrictions"])

GrantStatus = Literal["scheduled", "active", "revoked", "expired"]
RestrictionStatus = Literal["active", "lifted"]


def grant_of(access: TenantAccess, grant_id: str) -> dict[str, Any]:
    return found(access.services.queries.grant(access.tenant_id, grant_id, access.services.now()), "grant", grant_id)


def restriction_of(access: TenantAccess, restriction_id: str) -> dict[str, Any]:
    return found(access.services.queries.restriction(access.tenant_id, restriction_id), "restriction", restriction_id)


@router.post(
    "/v1/tenants/{tenant_id}/grants",
    status_code=201,
    response_model=GrantChanged,
    responses=COMMAND_ERRORS,
    summary="Grant a permission or a role on a resource",
)
async def grant(body: GrantIn, access: WriteAccess) -> Response:
    """R-G1 (a permission at a scope, optionally until `expires_at`) or R-P9 (a role on one resource); R-G3: from
    `starts_at` on, `scheduled` until then."""
    ledger = access.services.ledger
    arguments: dict[str, Any] = {
        "user_id": body.user_id,
        "permission": body.permission,
        "role": body.role,
        "scope": body.scope,
        "resource": body.resource.model_dump() if body.resource else None,
        "expires_at": body.expires_at,
        "starts_at": body.starts_at,
    }

    def shape(result: CommandResult) -> dict[str, Any]:
        return {"grant": grant_of(access, result.values["grant_id"])}

    return await tenant_command(
        access, "permissions.manage", lambda actor: ledger.grant(access.tenant_id, actor, **arguments), shape, 201
    )


@router.get("/v1/tenants/{tenant_id}/grants", response_model=Page[Grant], responses=READ_ERRORS, summary="Grants")
async def list_grants(
    access: ReadAccess,
    user_id: Annotated[UserId | None, Query()] = None,
    status: Annotated[GrantStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Grants, optionally of one member or by status. permissions.manage or audit.read."""
    await access.require("permissions.manage", "audit.read")
    services = access.services
    items, next_cursor = await blocking(
        services.queries.grants,
        access.tenant_id,
        user_id=user_id,
        status=status,
        cursor=cursor,
        limit=limit,
        now=services.now(),
    )
    return json_answer(200, page(items, next_cursor), None)


@router.delete(
    "/v1/tenants/{tenant_id}/grants/{grant_id}",
    response_model=GrantChanged,
    responses=COMMAND_ERRORS,
    summary="Revoke a grant",
)
async def revoke_grant(access: WriteAccess, grant_id: str) -> Response:
    """R-G2 by permissions.manage (R-M4 applies)."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "permissions.manage",
        lambda actor: ledger.revoke_grant(access.tenant_id, actor, grant_id),
        lambda _: {"grant": grant_of(access, grant_id)},
    )


@restriction_commands.post(
    "/v1/tenants/{tenant_id}/restrictions",
    status_code=201,
    response_model=RestrictionChanged,
    responses=COMMAND_ERRORS,
    summary="Restrict a member",
)
async def restrict(body: RestrictionIn, access: WriteAccess) -> Response:
    """R-P8: withdraw one permission (and what implies it) from one member, whatever gives it; never the owner."""
    ledger = access.services.ledger
    resource = body.resource.model_dump() if body.resource else None

    def shape(result: CommandResult) -> dict[str, Any]:
        return {"restriction": restriction_of(access, result.values["restriction_id"])}

    return await tenant_command(
        access,
        "permissions.manage",
        lambda actor: ledger.restrict(
            access.tenant_id,
            actor,
            user_id=body.user_id,
            permission=body.permission,
            scope=body.scope,
            resource=resource,
        ),
        shape,
        201,
    )


@router.get(
    "/v1/tenants/{tenant_id}/restrictions",
    response_model=Page[Restriction],
    responses=READ_ERRORS,
    summary="Restrictions",
)
async def list_restrictions(
    access: ReadAccess,
    user_id: Annotated[UserId | None, Query()] = None,
    status: Annotated[RestrictionStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Restrictions, optionally of one member or by status. permissions.manage or audit.read."""
    await access.require("permissions.manage", "audit.read")
    items, next_cursor = await blocking(
        access.services.queries.restrictions,
        access.tenant_id,
        user_id=user_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return json_answer(200, page(items, next_cursor), None)


@restriction_commands.delete(
    "/v1/tenants/{tenant_id}/restrictions/{restriction_id}",
    response_model=RestrictionChanged,
    responses=COMMAND_ERRORS,
    summary="Lift a restriction",
)
async def lift_restriction(access: WriteAccess, restriction_id: str) -> Response:
    """R-P8 by permissions.manage: what the restriction withdrew is held again."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "permissions.manage",
        lambda actor: ledger.lift_restriction(access.tenant_id, actor, restriction_id),
        lambda _: {"restriction": restriction_of(access, restriction_id)},
    )
