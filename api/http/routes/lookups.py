"""Lookups (R-C4): which resources a member may act on, which members may act on a resource, now or as of."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.http.commands import json_answer
from api.http.deps import ReadAccess, blocking
from api.http.routing import READ_ERRORS, AsOf, Cursor, Limit, check_as_of
from api.http.schemas.integrations import ResourceLookup, SubjectLookup
from api.http.schemas.requests import Permission, ResourceId, ResourceType, UserId

router = APIRouter(tags=["lookups and changes"])


@router.get(
    "/v1/tenants/{tenant_id}/lookup/resources",
    response_model=ResourceLookup,
    responses=READ_ERRORS,
    summary="Resources a member may act on",
)
async def lookup_resources(
    access: ReadAccess,
    user_id: Annotated[UserId, Query()],
    permission: Annotated[Permission, Query()],
    resource_type: Annotated[ResourceType, Query()],
    as_of: AsOf = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """R-C4: every known resource of the type that `check` allows, by id, each with its scope and `via`; `all`
    says the member holds the permission at scope `all` (which covers resources never seen too). The user itself,
    users.manage, audit.read, operator."""
    ask = access.services.queries.lookup_resources
    return await _lookup(access, user_id, ask, (user_id, permission, resource_type), as_of, cursor, limit)


@router.get(
    "/v1/tenants/{tenant_id}/lookup/subjects",
    response_model=SubjectLookup,
    responses=READ_ERRORS,
    summary="Members who may act on a resource",
)
async def lookup_subjects(
    access: ReadAccess,
    permission: Annotated[Permission, Query()],
    resource_type: Annotated[ResourceType, Query()],
    resource_id: Annotated[ResourceId, Query()],
    as_of: AsOf = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """R-C4: the members `check` allows on the resource, by user id, each with role, scope and `via`.
    users.manage, audit.read, operator."""
    ask = access.services.queries.lookup_subjects
    return await _lookup(access, None, ask, (permission, resource_type, resource_id), as_of, cursor, limit)


async def _lookup(
    access: ReadAccess,
    itself: str | None,
    ask: Callable[..., dict[str, Any]],
    args: tuple[str, ...],
    as_of: datetime | None,
    cursor: str | None,
    limit: int,
) -> Response:
    """One page of a lookup for users.manage, audit.read, the operator (and the user `itself`, if any)."""
    now = access.services.now()
    check_as_of(as_of, now)
    await access.require("users.manage", "audit.read", itself=itself)
    answer = await blocking(ask, access.tenant_id, *args, as_of=as_of, cursor=cursor, limit=limit, now=now)
    return json_answer(200, answer, None)
