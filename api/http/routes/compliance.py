"""What-if and access assertions (R-R3, R-R4): queries over the recorded history under a changed catalog.

Both are POSTs because their input is a document, yet they record nothing (an Idempotency-Key has no effect):
they call `replay.what_if`, the same functions the command line and the console use.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.http.commands import json_answer
from api.http.deps import ReadAccess, blocking
from api.http.routing import READ_ERRORS
from api.http.schemas.compliance import AssertionsIn, AssertionsOut, WhatIfIn, WhatIfOut
from replay.what_if import run_assertions, run_what_if

router = APIRouter(tags=["compliance"])


def _roles(body: WhatIfIn | AssertionsIn) -> list[dict[str, Any]]:
    return [role.model_dump() for role in body.roles]


@router.post("/v1/tenants/{tenant_id}/what-if", response_model=WhatIfOut, responses=READ_ERRORS, summary="What-if")
async def what_if(body: WhatIfIn, access: ReadAccess) -> Response:
    """R-R3: the tenant's history between `from` and `to` replayed in memory under a changed catalog of custom
    roles, against what happened: who would have gained or lost which permission, on what, from when until when.
    Records nothing. audit.read, permissions.manage, operator."""
    await access.require("audit.read", "permissions.manage")
    services = access.services
    answer = await blocking(
        run_what_if,
        services.ledger,
        services.store,
        access.tenant_id,
        roles=_roles(body),
        removed_roles=body.removed_roles,
        start=body.start,
        end=body.end,
        now=services.now(),
    )
    return json_answer(200, answer, None)


@router.post(
    "/v1/tenants/{tenant_id}/assertions", response_model=AssertionsOut, responses=READ_ERRORS, summary="Assertions"
)
async def assertions(body: AssertionsIn, access: ReadAccess) -> Response:
    """R-R4: check expected access (a user may or may not, no member of a role may, at most N members may) at any
    instant of the real history, or under a changed catalog (`roles`, `removed_roles`). Each failure repeats the
    assertion exactly as sent, with what was found. Records nothing. audit.read, permissions.manage, operator."""
    await access.require("audit.read", "permissions.manage")
    services = access.services
    # Failures repeat each assertion exactly as the client wrote it, so the raw body (already validated) is used.
    sent = (await access.request.json())["assertions"]
    answer = await blocking(
        run_assertions,
        services.ledger,
        services.store,
        access.tenant_id,
        sent,
        as_of=body.as_of,
        now=services.now(),
        roles=_roles(body),
        removed_roles=body.removed_roles,
    )
    return json_answer(200, answer, None)
