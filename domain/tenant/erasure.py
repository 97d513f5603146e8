"""Erasure of a person's data (R-L6): the command's rule and its event; the keys themselves are destroyed by the
application after the event is saved (`AccessLedger.erase_person`)."""

from __future__ import annotations

from typing import Any

from domain.errors import DomainError
from domain.tenant.events import TenantEvent
from domain.tenant.metadata import OPERATOR


class PersonErased(TenantEvent):
    """Who erased whom (`user_id`, null for an invitee who never joined), when and why; never the data."""

    erasure_id: str
    user_id: str | None
    fields: list[str]

    def apply(self, tenant: Any) -> None:
        """Nothing in the aggregate changes: the keys live in the key store, not in the tenant."""


class ErasureCommands:
    """R-L6 on the aggregate: only people who are no longer active members or pending invitees are erased."""

    def erase_person(
        self: Any, *, user_ids: list[str], invitation_ids: list[str], user_id: str | None, fields: list[str]
    ) -> str:
        # The operator erases from the command line on a data-subject request, closed tenants included (their
        # history stays, the person's data goes); members need users.manage on an open tenant.
        if self.actor != OPERATOR:
            self.require("users.manage")
        for member in user_ids:
            if member in self.members:
                raise DomainError("still_active", f"{member} is an active member: remove them first")
        for invitation_id in invitation_ids:
            invitation = self.invitations.get(invitation_id)
            if invitation is not None and invitation.status == "pending":
                raise DomainError("still_active", f"invitation {invitation_id} is pending: revoke it first")
        erasure_id = self.next_id("erasure")
        self.trigger(PersonErased, erasure_id=erasure_id, user_id=user_id, fields=list(fields))
        return erasure_id
