"""What-if and access assertions (R-R3, R-R4), queries over the history under a changed catalog; erasure (R-L6).

Both are POSTs because their input is a document, yet they record nothing (an Idempotency-Key has no effect):
they call `replay.what_if`, the same functions the command line and the console use.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Response

from api.http.commands import json_answer, tenant_command
from api.http.deps import ReadAccess, WriteAccess, blocking
from api.http.routing import COMMAND_ERRORS, READ_ERRORS
from api.http.schemas.compliance import AssertionsIn, AssertionsOut, ErasureIn, ErasureOut, WhatIfIn, WhatIfOut
from domain.actors import Actor, CommandResult
from domain.errors import validation
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
        services.reads,
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
        services.reads,
        access.tenant_id,
        sent,
        as_of=body.as_of,
        now=services.now(),
        roles=_roles(body),
        removed_roles=body.removed_roles,
    )
    return json_answer(200, answer, None)


@router.post(
    "/v1/tenants/{tenant_id}/erasures",
    status_code=201,
    response_model=ErasureOut,
    responses=COMMAND_ERRORS,
    summary="Erase a person's data",
)
async def erase(body: ErasureIn, access: WriteAccess) -> Response:
    """R-L6 by users.manage: destroys the key of a former member or invitee (409 still_active otherwise) and records
    `PersonErased`; from then on their e-mail, name and reasons read `[erased]` everywhere, and every hash stays as
    it was. Stored idempotent answers that held their data are deleted."""
    services = access.services
    if (body.user_id is None) == (body.email is None):
        raise validation("give exactly one of user_id and email", ("body", "user_id"))

    def call(actor: Actor) -> CommandResult:
        # The body's reason is the one recorded (X-Reason, if sent too, gives way to it).
        result = services.ledger.erase_person(
            access.tenant_id, replace(actor, reason=body.reason), user_id=body.user_id, email=body.email
        )
        services.idempotency.forget(result.values.pop("texts", set()))
        return result

    return await tenant_command(
        access,
        "users.manage",
        call,
        lambda r: {
            "erasure": {
                "erasure_id": r.values["erasure_id"],
                "erased_at": r.values["erased_at"],
                "fields": r.values["fields"],
            }
        },
        201,
    )
