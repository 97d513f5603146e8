"""Tenants and their subscription (R-T1…R-T5, R-S5)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from api.http.commands import execute, json_answer, tenant_command
from api.http.deps import (
    PrincipalDep,
    ReadAccess,
    ServicesDep,
    TenantAccess,
    WriteAccess,
    blocking,
    request_actor,
    wait_for_position,
)
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, Cursor, Limit, page, problems
from api.http.schemas.requests import OpenTenantIn, PolicyIn
from api.http.schemas.resources import Page, Tenant, TenantChanged, TenantOpened
from api.runtime import Services
from domain.errors import DomainError
from domain.tenant.metadata import OPERATOR, to_json_value

router = APIRouter(tags=["tenants"])


def tenant_view(services: Services, tenant_id: str, with_removals: bool) -> dict[str, Any]:
    """API.md's Tenant; `scheduled_removals` (R-S5) only for callers holding users.manage."""
    tenant = dict(services.queries.tenant(tenant_id, services.now()))
    tenant.pop("scheduled_removals", None)
    if with_removals:
        tenant["scheduled_removals"] = to_json_value(services.ledger.removals_scheduled(tenant_id))
    return tenant


async def sees_removals(access: TenantAccess) -> bool:
    """The operator reads everything; members see the R-S5 preview with users.manage."""
    return access.principal.is_operator or await access.holds("users.manage")


def generated_tenant_id(name: str, idempotency_key: str | None = None) -> str:
    """A readable, unique-enough id from the name: `acme-ltd-3f9a1c`; derived from the Idempotency-Key when there
    is one, so that a retry after a crash names the tenant it may already have opened (R-X3)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    suffix = hashlib.sha256(idempotency_key.encode()).hexdigest()[:6] if idempotency_key else secrets.token_hex(3)
    return f"{slug or 'tenant'}-{suffix}"


@router.post(
    "/v1/tenants",
    status_code=201,
    response_model=TenantOpened,
    responses=problems(401, 403, 409, 413, 422, 503),
    summary="Open a tenant (operator)",
)
async def open_tenant(body: OpenTenantIn, principal: PrincipalDep, services: ServicesDep, request: Request) -> Response:
    """R-T1: the operator opens a tenant; the owner's token is in the answer, once."""
    if not principal.is_operator:
        raise DomainError("forbidden", "only the operator opens tenants")
    tenant_id = body.tenant_id or generated_tenant_id(body.name, request.headers.get("idempotency-key"))
    actor = request_actor(request, OPERATOR)
    plan = body.plan.model_dump(exclude_none=True)

    def call() -> Any:
        return services.ledger.open_tenant(
            actor,
            tenant_id=tenant_id,
            name=body.name,
            plan=plan,
            owner=body.owner.model_dump(),
            min_admins=body.min_admins,
        )

    def shape(result: Any) -> dict[str, Any]:
        return {"tenant": tenant_view(services, tenant_id, True), "owner_token": result.values["owner_token"]}

    return await execute(services, request, principal.scope, call, shape, 201)


def tenant_list(services: Services, status: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """A page of every tenant, with the R-S5 preview the operator reads everywhere."""
    items, next_cursor = services.queries.tenants(status, cursor, limit, services.now())
    for tenant in items:
        tenant["scheduled_removals"] = to_json_value(services.ledger.removals_scheduled(tenant["tenant_id"]))
    return page(items, next_cursor)


@router.get(
    "/v1/tenants",
    response_model=Page[Tenant],
    responses=problems(401, 403, 422, 503),
    summary="Every tenant (operator)",
)
async def list_tenants(
    principal: PrincipalDep,
    services: ServicesDep,
    status: Literal["active", "cancellation_scheduled", "closed"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: Annotated[int | None, Query(ge=0, description="Wait up to 5 s for this position")] = None,
) -> Response:
    """The operator's list of tenants, oldest first (closed ones included unless `status` says otherwise)."""
    if not principal.is_operator:
        raise DomainError("forbidden", "only the operator lists tenants")
    await wait_for_position(services, min_position)
    return json_answer(200, await blocking(tenant_list, services, status, cursor, limit), None)


@router.get("/v1/tenants/{tenant_id}", response_model=Tenant, responses=READ_ERRORS, summary="A tenant")
async def get_tenant(access: ReadAccess) -> Response:
    """Plan, term, seats, add-ons; `scheduled_removals` for users.manage (R-S5). Members and the operator."""
    removals = await sees_removals(access)
    body = await blocking(tenant_view, access.services, access.tenant_id, removals)
    return json_answer(200, body, None)


async def _tenant_command(access: TenantAccess, permission: str, call: Any) -> Response:
    removals = await sees_removals(access)
    return await tenant_command(
        access, permission, call, lambda _: {"tenant": tenant_view(access.services, access.tenant_id, removals)}
    )


@router.put(
    "/v1/tenants/{tenant_id}/policy", response_model=TenantChanged, responses=COMMAND_ERRORS, summary="Set min_admins"
)
async def change_policy(body: PolicyIn, access: WriteAccess) -> Response:
    """R-M4: the number of users.manage holders never drops below `min_admins`. Needs settings.manage."""
    ledger = access.services.ledger
    return await _tenant_command(
        access, "settings.manage", lambda actor: ledger.change_policy(access.tenant_id, actor, body.min_admins)
    )


@router.post(
    "/v1/tenants/{tenant_id}/subscription/cancellation",
    response_model=TenantChanged,
    responses=COMMAND_ERRORS,
    summary="Cancel the subscription at term end (owner)",
)
async def cancel_subscription(access: WriteAccess) -> Response:
    """R-T3: only the owner; it takes effect at the end of the current term."""
    ledger = access.services.ledger
    return await _tenant_command(
        access, "subscription.cancel", lambda actor: ledger.cancel_subscription(access.tenant_id, actor)
    )


@router.delete(
    "/v1/tenants/{tenant_id}/subscription/cancellation",
    response_model=TenantChanged,
    responses=COMMAND_ERRORS,
    summary="Withdraw the scheduled cancellation (owner)",
)
async def withdraw_cancellation(access: WriteAccess) -> Response:
    """R-T3: the owner withdraws a cancellation before it takes effect."""
    ledger = access.services.ledger
    return await _tenant_command(
        access, "subscription.cancel", lambda actor: ledger.withdraw_cancellation(access.tenant_id, actor)
    )
