"""Invitation commands of the Tenant aggregate (R-I1…R-I3), a mixin of `domain.tenant.aggregate.Tenant`.

Kept apart only to keep modules short; the methods use the aggregate's guards (`require`, `check_*`, `trigger`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.errors import DomainError, not_found
from domain.tenant import events as ev

# One wording for every token that opens nothing, whether or not its tenant exists (R-X5).
UNKNOWN_INVITATION = "unknown or replaced invitation token"
INVITATION_TTL = timedelta(days=7)


class InvitationCommands:
    """Invite, revoke, resend, accept and decline (R-I1, R-I2); an invitation reserves a seat (R-S1)."""

    def invite(self, *, email: str, role: str, token_hash: str) -> str:
        self.require("users.manage")
        self.check_role_assignable(role)
        self.check_email_free(email)
        self.check_seat_free()
        invitation_id = self.next_id("inv")
        self.trigger(
            ev.InvitationSent,
            invitation_id=invitation_id,
            email=email,
            role=role,
            expires_at=self.now + INVITATION_TTL,
            token_hash=token_hash,
        )
        return invitation_id

    def pending_invitation(self, invitation_id: str) -> Any:
        invitation = self.invitations.get(invitation_id)
        if invitation is None:
            raise not_found("invitation", invitation_id)
        if invitation.status != "pending":
            raise DomainError("invitation_not_pending", f"the invitation is {invitation.status}")
        return invitation

    def revoke_invitation(self, invitation_id: str) -> None:
        self.require("users.manage")
        invitation = self.pending_invitation(invitation_id)
        self.trigger(ev.InvitationRevoked, invitation_id=invitation_id, email=invitation.email, reason="revoked")

    def resend_invitation(self, invitation_id: str, token_hash: str) -> None:
        self.require("users.manage")
        invitation = self.pending_invitation(invitation_id)
        self.trigger(
            ev.InvitationResent,
            invitation_id=invitation_id,
            email=invitation.email,
            expires_at=self.now + INVITATION_TTL,
            token_hash=token_hash,
        )

    def invitation_by_token(self, token_hash: str) -> Any:
        """The invitation whose current token this is: 401 if none, 409 if it is no longer pending (R-I2)."""
        invitation_id = self.invitation_tokens.get(token_hash)
        if invitation_id is None:
            raise DomainError("unauthenticated", UNKNOWN_INVITATION)
        self.require_open()
        return self.pending_invitation(invitation_id)

    def accept_invitation(
        self, *, token_hash: str, user_id: str, name: str, token_id: str, member_token_hash: str
    ) -> Any:
        invitation = self.invitation_by_token(token_hash)
        if user_id in self.members:
            raise DomainError("already_member", f"{user_id} is already a member")
        self.trigger(
            ev.InvitationAccepted,
            invitation_id=invitation.invitation_id,
            email=invitation.email,
            user_id=user_id,
        )
        self.add_member(
            user_id=user_id,
            email=invitation.email,
            name=name,
            role=invitation.role,
            token_id=token_id,
            token_hash=member_token_hash,
            via="invitation",
            invitation_id=invitation.invitation_id,
        )
        return self.members[user_id]

    def decline_invitation(self, token_hash: str) -> None:
        invitation = self.invitation_by_token(token_hash)
        self.trigger(ev.InvitationDeclined, invitation_id=invitation.invitation_id, email=invitation.email)
