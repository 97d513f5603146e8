"""Invitations (R-I1…R-I3): sent, listed, revoked and resent by users.manage; accepted or declined with their token."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from api.http.commands import execute, json_answer, tenant_command
from api.http.deps import ReadAccess, ServicesDep, TenantAccess, WriteAccess, blocking, request_actor
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, Cursor, Limit, found, page, problems
from api.http.schemas.requests import AcceptIn, DeclineIn, InviteIn
from api.http.schemas.resources import (
    Invitation,
    InvitationAccepted,
    InvitationChanged,
    InvitationCreated,
    Page,
    Positioned,
)
from domain.application import CommandResult, hash_token
from domain.errors import DomainError
from domain.tenant.invitations import UNKNOWN_INVITATION

router = APIRouter(tags=["invitations"])

INVITATION = "/v1/tenants/{tenant_id}/invitations/{invitation_id}"
InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]


def invitation_of(access: TenantAccess, invitation_id: str) -> dict[str, Any]:
    services = access.services
    invitation = services.queries.invitation(access.tenant_id, invitation_id, now=services.now())
    return found(invitation, "invitation", invitation_id)


@router.post(
    "/v1/tenants/{tenant_id}/invitations",
    status_code=201,
    response_model=InvitationCreated,
    responses=COMMAND_ERRORS,
    summary="Invite someone",
)
async def invite(body: InviteIn, access: WriteAccess) -> Response:
    """R-I1 by users.manage: reserves a seat; the token (to e-mail) is in the answer, once; expires in 7 days."""
    ledger = access.services.ledger

    def shape(result: CommandResult) -> dict[str, Any]:
        return {"invitation": invitation_of(access, result.values["invitation_id"]), "token": result.values["token"]}

    return await tenant_command(
        access, "users.manage", lambda actor: ledger.invite(access.tenant_id, actor, **body.model_dump()), shape, 201
    )


@router.get(
    "/v1/tenants/{tenant_id}/invitations", response_model=Page[Invitation], responses=READ_ERRORS, summary="Invitations"
)
async def list_invitations(
    access: ReadAccess,
    status: Annotated[InvitationStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Every invitation, optionally by status. Needs users.manage."""
    await access.require("users.manage")
    items, next_cursor = await blocking(
        access.services.queries.invitations, access.tenant_id, status=status, cursor=cursor, limit=limit
    )
    return json_answer(200, page(items, next_cursor), None)


@router.delete(INVITATION, response_model=InvitationChanged, responses=COMMAND_ERRORS, summary="Revoke an invitation")
async def revoke_invitation(access: WriteAccess, invitation_id: str) -> Response:
    """R-I2 by users.manage; its seat is free again. 409 invitation_not_pending if it is no longer pending."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "users.manage",
        lambda actor: ledger.revoke_invitation(access.tenant_id, actor, invitation_id),
        lambda _: {"invitation": invitation_of(access, invitation_id)},
    )


@router.post(
    INVITATION + "/resend", response_model=InvitationCreated, responses=COMMAND_ERRORS, summary="Resend an invitation"
)
async def resend_invitation(access: WriteAccess, invitation_id: str) -> Response:
    """R-I2 by users.manage: a new token (the old one stops working) and a new expiry."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "users.manage",
        lambda actor: ledger.resend_invitation(access.tenant_id, actor, invitation_id),
        lambda result: {"invitation": invitation_of(access, invitation_id), "token": result.values["token"]},
    )


def _as_invitee(call: Any) -> Any:
    """A token naming no tenant that exists was never issued: 401, in the very words of any unknown token, so the
    answer never tells whether a tenant exists (R-X5)."""

    def run() -> CommandResult:
        try:
            return call()
        except DomainError as error:
            if error.code == "not_found":
                raise DomainError("unauthenticated", UNKNOWN_INVITATION) from None
            raise

    return run


def _invitee_scope(token: str) -> str:
    return "invitation:" + hash_token(token)[:32]


@router.post(
    "/v1/invitations/accept",
    status_code=201,
    response_model=InvitationAccepted,
    responses=problems(401, 409, 413, 422, 503),
    summary="Accept an invitation (token in the body)",
)
async def accept_invitation(body: AcceptIn, services: ServicesDep, request: Request) -> Response:
    """R-I2: the invitee becomes a member with its own API token. An Authorization header is ignored here;
    an unknown or replaced token answers 401, an invitation no longer pending 409 invitation_not_pending."""
    request.state.key_scope = _invitee_scope(body.token)
    actor = request_actor(request, body.user_id)
    call = _as_invitee(
        lambda: services.ledger.accept_invitation(actor, token=body.token, user_id=body.user_id, name=body.name)
    )

    def shape(result: CommandResult) -> dict[str, Any]:
        tenant_id = result.values["tenant_id"]
        member = found(services.queries.member(tenant_id, body.user_id), "member", body.user_id)
        return {"tenant_id": tenant_id, "member": member, "token": result.values["token"]}

    return await execute(services, request, _invitee_scope(body.token), call, shape, 201)


@router.post(
    "/v1/invitations/decline",
    response_model=Positioned,
    responses=problems(401, 409, 413, 422, 503),
    summary="Decline an invitation (token in the body)",
)
async def decline_invitation(body: DeclineIn, services: ServicesDep, request: Request) -> Response:
    """R-I2: the invitation ends and its seat is free again. Authorization is ignored here."""
    request.state.key_scope = _invitee_scope(body.token)
    actor = request_actor(request, "invitee")
    call = _as_invitee(lambda: services.ledger.decline_invitation(actor, token=body.token))
    return await execute(services, request, _invitee_scope(body.token), call, lambda _: {})
