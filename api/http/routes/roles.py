"""Built-in and custom roles (R-P2, R-P7)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.http.commands import json_answer, tenant_command
from api.http.deps import ReadAccess, TenantAccess, WriteAccess, blocking
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, found, page
from api.http.schemas.requests import RoleIn, RoleUpdateIn
from api.http.schemas.resources import Page, Positioned, Role, RoleChanged

router = APIRouter(tags=["roles"])
# Served once the ledger records custom roles (issue 6); see `api.http.app`.
commands = APIRouter(tags=["roles"])

ROLE = "/v1/tenants/{tenant_id}/roles/{role_id}"


def role_of(access: TenantAccess, role_id: str) -> dict[str, Any]:
    return found(access.services.queries.role(access.tenant_id, role_id), "role", role_id)


def _definition(body: RoleUpdateIn) -> dict[str, Any]:
    return {
        "name": body.name,
        "includes": list(body.includes),
        "permissions": [p.model_dump() for p in body.permissions],
    }


@router.get("/v1/tenants/{tenant_id}/roles", response_model=Page[Role], responses=READ_ERRORS, summary="Roles")
async def list_roles(access: ReadAccess) -> Response:
    """Built-in and custom roles. Any member."""
    items = await blocking(access.services.queries.roles, access.tenant_id)
    return json_answer(200, page(items), None)


@router.get(ROLE, response_model=Role, responses=READ_ERRORS, summary="A role")
async def get_role(access: ReadAccess, role_id: str) -> Response:
    """One built-in or custom role. Any member."""
    return json_answer(200, await blocking(role_of, access, role_id), None)


@commands.post(
    "/v1/tenants/{tenant_id}/roles",
    status_code=201,
    response_model=RoleChanged,
    responses=COMMAND_ERRORS,
    summary="Define a custom role",
)
async def define_role(body: RoleIn, access: WriteAccess) -> Response:
    """R-P7 by permissions.manage: no built-in name, no cycles (role_cycle), no escalation (R-P6)."""
    ledger = access.services.ledger
    definition = _definition(body)
    return await tenant_command(
        access,
        "permissions.manage",
        lambda actor: ledger.define_role(access.tenant_id, actor, role_id=body.role_id, **definition),
        lambda _: {"role": role_of(access, body.role_id)},
        201,
    )


@commands.put(ROLE, response_model=RoleChanged, responses=COMMAND_ERRORS, summary="Redefine a custom role")
async def redefine_role(body: RoleUpdateIn, access: WriteAccess, role_id: str) -> Response:
    """R-P7: every holder's permissions change from this instant; built-in roles cannot change."""
    ledger = access.services.ledger
    definition = _definition(body)
    return await tenant_command(
        access,
        "permissions.manage",
        lambda actor: ledger.redefine_role(access.tenant_id, actor, role_id, **definition),
        lambda _: {"role": role_of(access, role_id)},
    )


@commands.delete(ROLE, response_model=Positioned, responses=COMMAND_ERRORS, summary="Delete a custom role")
async def delete_role(access: WriteAccess, role_id: str) -> Response:
    """R-P7: 409 role_in_use while a member, invitation or grant holds it."""
    ledger = access.services.ledger
    return await tenant_command(
        access, "permissions.manage", lambda actor: ledger.delete_role(access.tenant_id, actor, role_id), lambda _: {}
    )
