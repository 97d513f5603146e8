"""The resource tree (R-H2) and assignments (R-A1, R-A2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.http.commands import json_answer, tenant_command
from api.http.deps import ReadAccess, TenantAccess, WriteAccess, blocking
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, AsOf, Cursor, Limit, check_as_of, page
from api.http.schemas.requests import AssignIn, ParentIn, ResourceId, ResourceType, UserId
from api.http.schemas.resources import Assigned, Assignment, Page, Positioned, ResourceChanged, ResourceNode
from domain.errors import DomainError

router = APIRouter(tags=["resources and assignments"])
# Served once the ledger records resource parents (issue 6); see `api.http.app`.
parent_commands = APIRouter(tags=["resources and assignments"])

RESOURCE = "/v1/tenants/{tenant_id}/resources/{resource_type}/{resource_id}"


def _resource(access: TenantAccess, resource_type: str, resource_id: str, as_of: Any = None) -> dict[str, Any]:
    services = access.services
    return services.queries.resource(access.tenant_id, resource_type, resource_id, as_of=as_of, now=services.now())


@parent_commands.put(
    RESOURCE, response_model=ResourceChanged, responses=COMMAND_ERRORS, summary="Set a resource's parent"
)
async def set_parent(
    body: ParentIn, access: WriteAccess, resource_type: ResourceType, resource_id: ResourceId
) -> Response:
    """R-H2 by settings.manage: a parent of any type, or null; no cycles (hierarchy_cycle)."""
    ledger = access.services.ledger
    parent = body.parent.model_dump() if body.parent else None

    def shape(_: Any) -> dict[str, Any]:
        node = _resource(access, resource_type, resource_id)
        return {"resource": {"type": node["type"], "id": node["id"], "parent": node["parent"]}}

    return await tenant_command(
        access,
        "settings.manage",
        lambda actor: ledger.set_resource_parent(access.tenant_id, actor, resource_type, resource_id, parent),
        shape,
    )


@router.get(RESOURCE, response_model=ResourceNode, responses=READ_ERRORS, summary="A resource and its ancestors")
async def get_resource(access: ReadAccess, resource_type: str, resource_id: str, as_of: AsOf = None) -> Response:
    """A resource never named answers as one without parent. Any member."""
    check_as_of(as_of, access.services.now())
    return json_answer(200, await blocking(_resource, access, resource_type, resource_id, as_of), None)


@router.post("/v1/tenants/{tenant_id}/assignments", response_model=Assigned, responses=COMMAND_ERRORS, summary="Assign")
async def assign(body: AssignIn, access: WriteAccess) -> Response:
    """R-A1 by leads.assign: up to 10,000 resources to one member, all or nothing; R-A2 for leads."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "leads.assign",
        lambda actor: ledger.assign(access.tenant_id, actor, **body.model_dump()),
        lambda result: {"assigned": result.values["assigned"]},
    )


@router.delete(
    "/v1/tenants/{tenant_id}/assignments/{resource_type}/{resource_id}",
    response_model=Positioned,
    responses=COMMAND_ERRORS,
    summary="Unassign",
)
async def unassign(access: WriteAccess, resource_type: str, resource_id: str) -> Response:
    """R-A1 by leads.assign; the resource stays, unassigned."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "leads.assign",
        lambda actor: ledger.unassign(access.tenant_id, actor, resource_type, resource_id),
        lambda _: {},
    )


@router.get(
    "/v1/tenants/{tenant_id}/assignments", response_model=Page[Assignment], responses=READ_ERRORS, summary="Assignments"
)
async def list_assignments(
    access: ReadAccess,
    user_id: Annotated[UserId | None, Query()] = None,
    resource_type: Annotated[ResourceType | None, Query()] = None,
    as_of: AsOf = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """With leads.assign, anyone's; without it, only the caller's own (the default `user_id` then)."""
    services = access.services
    check_as_of(as_of, services.now())
    if not access.principal.is_operator and user_id != access.user_id and not await access.holds("leads.assign"):
        if user_id is not None:
            raise DomainError(
                "forbidden", "listing others' assignments needs leads.assign", missing_permission="leads.assign"
            )
        user_id = access.user_id
    items, next_cursor = await blocking(
        services.queries.assignments,
        access.tenant_id,
        user_id=user_id,
        resource_type=resource_type,
        as_of=as_of,
        cursor=cursor,
        limit=limit,
        now=services.now(),
    )
    return json_answer(200, page(items, next_cursor), None)
