"""The Tenant aggregate: one per customer organisation, owning every rule that must hold at once.

Each command checks its rule (in API.md's order: tenant_closed, forbidden, not_found, owner_immutable, escalation,
then the rule's own conflicts, min_admins, seat_limit_reached) and triggers events; `domain.tenant.events` applies
them. Commands read the acting user from the event context (`domain.tenant.metadata.acting`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.effective_access import Access, custom_role_catalog, holds
from domain.errors import DomainError, not_found, validation
from domain.permissions import OWNER, lookup_role, role_permissions
from domain.tenant import events as ev
from domain.tenant.addons import AddonCommands
from domain.tenant.erasure import ErasureCommands
from domain.tenant.grants import MAX_BULK, GrantCommands
from domain.tenant.invitations import INVITATION_TTL, InvitationCommands
from domain.tenant.metadata import OPERATOR, current_context, meta_of
from domain.tenant.structure import AccessCommands

TENANT_NAMESPACE = uuid.UUID("5b0c8a8e-0d1c-4f5e-9a59-6f1d0a7c2b11")


def tenant_uuid(tenant_id: str) -> uuid.UUID:
    """The aggregate id of a tenant: deterministic, so two racing openings of one tenant cannot both win."""
    return uuid.uuid5(TENANT_NAMESPACE, tenant_id)


def midnight(day: date) -> datetime:
    """00:00 UTC at the start of `day` (terms and cancellations take effect then)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Tenant(InvitationCommands, AddonCommands, GrantCommands, AccessCommands, ErasureCommands, Aggregate):
    """A customer organisation: owner, members, seats, invitations, add-ons, grants, assignments, tokens.

    Invitation, add-on and grant/assignment commands live in mixins (`domain.tenant.invitations`, `…_addons`,
    `…_grants`); this class holds the state guards and the member, token and subscription commands.
    """

    def __init__(self) -> None:
        """State is set by `TenantOpened.apply`."""

    # ----------------------------------------------------------------- plumbing

    def trigger(self, event_class: type[ev.TenantEvent], **data: Any) -> None:
        """Trigger an event with the current context's metadata."""
        self.trigger_event(event_class, tenant_id=self.tenant_id, **meta_of(current_context()), **data)
        self.last_occurred_at = max(self.last_occurred_at, current_context().occurred_at)

    def next_id(self, prefix: str) -> str:
        """A short id unique within the tenant, derived from the aggregate's version (deterministic on replay)."""
        # The version of the event about to be triggered: unique even when due changes are still pending.
        return f"{prefix}_{self.version + 1}"

    @classmethod
    def open(
        cls,
        *,
        tenant_id: str,
        name: str,
        plan: dict[str, Any],
        term_start: date,
        term_end: date,
        owner: dict[str, str],
        min_admins: int,
        owner_token_id: str,
        owner_token_hash: str,
    ) -> Tenant:
        """R-T1: open a tenant; the owner is a member from now on (seat order 0)."""
        check_plan(plan)
        if term_end <= term_start:
            raise validation("term_end must be after term_start", ("body", "plan", "term_end"))
        return cls._create(
            ev.TenantOpened,
            id=tenant_uuid(tenant_id),
            **meta_of(current_context()),
            tenant_id=tenant_id,
            name=name,
            plan=plan,
            term_start=term_start,
            term_end=term_end,
            owner=owner,
            user_id=owner["user_id"],
            min_admins=min_admins,
            owner_token_id=owner_token_id,
            owner_token_hash=owner_token_hash,
        )

    # ----------------------------------------------------------------- guards

    @property
    def actor(self) -> str:
        return current_context().actor

    @property
    def now(self) -> datetime:
        """The command's one instant (its context's `occurred_at`): every rule of the command reads this."""
        return current_context().occurred_at

    @property
    def term_end_at(self) -> datetime:
        """The instant the current term ends (cancellations take effect then)."""
        return midnight(self.term_end)

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    def require(self, permission: str) -> str:
        """The acting member, if the tenant is open and they hold `permission` at any scope; else the error."""
        if self.closed:
            raise DomainError("tenant_closed", "the tenant is closed; it accepts no command")
        actor = self.actor
        if actor not in self.members or not holds(self, actor, permission):
            raise DomainError("forbidden", f"this needs {permission}", missing_permission=permission)
        return actor

    def require_open(self) -> None:
        if self.closed:
            raise DomainError("tenant_closed", "the tenant is closed; it accepts no command")

    def member(self, user_id: str) -> Any:
        member = self.members.get(user_id)
        if member is None:
            raise not_found("member", user_id)
        return member

    def check_role_assignable(self, role: str) -> None:
        """Validation, then owner_immutable, then escalation (R-T2, R-P6) for giving `role`."""
        catalog = custom_role_catalog(self)
        if lookup_role(role, catalog) is None:
            raise validation(f"unknown role {role!r}", ("body", "role"))
        if role == OWNER:
            raise DomainError("owner_immutable", "the owner role is never given to anyone else")
        self.check_no_escalation(role_permissions(role, catalog).items())

    def check_no_escalation(self, wanted: Any, resource: tuple[str, str] | None = None) -> None:
        """R-P6: the actor must hold every (permission, scope) they give, at that scope or wider."""
        access = Access(self)
        # Sorted: a role's permissions come out of sets, and the error must name the same one in every process.
        for permission, scope in sorted(wanted):
            if not access.may_give(self.actor, permission, scope, resource):
                raise DomainError(
                    "escalation",
                    f"you cannot give {permission} at scope {scope}: you do not hold it there",
                    permission=permission,
                    scope=scope,
                )

    def check_min_admins_after(self, after: Access) -> None:
        """R-M4 on a what-if view of the tenant, before anything is triggered (so a rejection changes nothing)."""
        remaining = after.user_managers()
        if remaining < self.min_admins and remaining < Access(self).user_managers():
            raise DomainError(
                "min_admins",
                f"at least {self.min_admins} members must hold users.manage; this would leave {remaining}",
            )

    # ----------------------------------------------------------------- seats (R-S1)

    @property
    def capacity(self) -> int:
        active = (a.seats for a in self.addons.values() if a.status != "ended")
        return int(self.plan["included_seats"]) + sum(active)

    @property
    def pending_invitations(self) -> list[Any]:
        return [i for i in self.invitations.values() if i.status == "pending"]

    @property
    def used(self) -> int:
        return len(self.members) - 1 + len(self.pending_invitations)

    def check_seat_free(self) -> None:
        if self.used + 1 > self.capacity:
            raise DomainError("seat_limit_reached", f"all {self.capacity} seats are in use", capacity=self.capacity)

    # ----------------------------------------------------------------- subscription (R-T3)

    def change_policy(self, min_admins: int) -> None:
        self.require("settings.manage")
        if min_admins < 1:
            raise validation("min_admins must be at least 1", ("body", "min_admins"))
        self.trigger(ev.PolicyChanged, min_admins=min_admins, old_min_admins=self.min_admins)

    def cancel_subscription(self) -> None:
        self.require("subscription.cancel")
        if self.status == "cancellation_scheduled":
            raise DomainError("cancellation_already_scheduled", "the subscription is already cancelled")
        self.trigger(ev.SubscriptionCancellationScheduled, effective_at=self.term_end_at)

    def withdraw_cancellation(self) -> None:
        self.require("subscription.cancel")
        if self.status != "cancellation_scheduled":
            raise DomainError("cancellation_not_scheduled", "no cancellation is scheduled")
        self.trigger(ev.SubscriptionCancellationWithdrawn, effective_at=self.cancellation_effective_at)

    # ----------------------------------------------------------------- members (R-M1…R-M3)

    def check_email_free(self, email: str) -> None:
        lowered = email.lower()
        if any(m.email.lower() == lowered for m in self.members.values()):
            raise DomainError("already_member", f"{email} is already a member's e-mail")
        if any(i.email.lower() == lowered for i in self.pending_invitations):
            raise DomainError("invitation_pending", f"{email} already has a pending invitation")

    def add_member(
        self,
        *,
        user_id: str,
        email: str,
        name: str,
        role: str,
        token_id: str,
        token_hash: str,
        via: str = "direct",
        invitation_id: str | None = None,
    ) -> None:
        if via == "direct":
            self.require("users.manage")
            self.check_role_assignable(role)
        if user_id in self.members:
            raise DomainError("already_member", f"{user_id} is already a member")
        if via == "direct":
            self.check_email_free(email)
            self.check_seat_free()
        self.trigger(
            ev.MemberAdded,
            user_id=user_id,
            email=email,
            name=name,
            role=role,
            seat_order=self.next_seat_order,
            via=via,
            invitation_id=invitation_id,
        )
        self.trigger(ev.TokenIssued, token_id=token_id, user_id=user_id, label="default", token_hash=token_hash)

    def change_role(self, user_id: str, role: str) -> None:
        self.require("users.manage")
        member = self.member(user_id)
        if user_id == self.owner_id:
            raise DomainError("owner_immutable", "the owner's role cannot change")
        self.check_role_assignable(role)
        if member.role == role:
            return
        self.check_min_admins_after(Access(self, member_roles={user_id: role}))
        self.trigger(ev.MemberRoleChanged, user_id=user_id, old_role=member.role, new_role=role)

    def remove_member(self, user_id: str) -> None:
        """R-M3: by `users.manage`, or the member leaving; never the owner."""
        self.require_open()
        leaving = user_id == self.actor
        if not leaving:
            self.require("users.manage")
        if user_id not in self.members:
            raise not_found("member", user_id)
        if user_id == self.owner_id:
            raise DomainError("owner_immutable", "the owner cannot be removed or leave")
        self.check_min_admins_after(Access(self, removed=[user_id]))
        self.evict(user_id, "left" if leaving else "removed")

    def evict(self, user_id: str, reason: str) -> None:
        """Remove a member with everything that hangs on them: assignments, grants, tokens (R-M3, R-S4)."""
        for key, assignee in list(self.assignments.items()):
            if assignee == user_id:
                resource_type, resource_id = key.split(":", 1)
                self.trigger(
                    ev.ResourceUnassigned,
                    resource_type=resource_type,
                    resource_id=resource_id,
                    user_id=user_id,
                    reason=reason,
                )
        for grant in [g for g in self.grants.values() if g.user_id == user_id]:
            self.trigger(ev.PermissionRevoked, grant_id=grant.grant_id, user_id=user_id, reason=reason)
        for token in [t for t in self.tokens.values() if t.user_id == user_id]:
            self.trigger(ev.TokenRevoked, token_id=token.token_id, user_id=user_id, reason=reason)
        self.lift_restrictions_of(user_id, reason)
        self.move_reports_up(user_id)
        member = self.members[user_id]
        self.trigger(ev.MemberRemoved, user_id=user_id, reason=reason, email=member.email, seat_order=member.seat_order)

    # ----------------------------------------------------------------- tokens

    def issue_token(self, token_id: str, token_hash: str, label: str | None) -> None:
        self.require_open()
        if self.actor not in self.members:
            raise DomainError("forbidden", "only members issue tokens for themselves")
        self.trigger(ev.TokenIssued, token_id=token_id, user_id=self.actor, label=label, token_hash=token_hash)

    def revoke_token(self, token_id: str) -> None:
        self.require_open()
        token = self.tokens.get(token_id)
        if token is None or token.user_id != self.actor:
            self.require("users.manage")
        if token is None:
            raise not_found("token", token_id)
        if token.user_id == self.owner_id and self.actor != self.owner_id:
            raise DomainError("owner_immutable", "only the owner revokes the owner's tokens (R-T6)")
        self.trigger(ev.TokenRevoked, token_id=token_id, user_id=token.user_id, reason="revoked")

    def issue_owner_token(self, token_id: str, token_hash: str, label: str | None) -> None:
        """R-T6: the operator issues the owner a new token (an owner who lost every token); revokes nothing."""
        self.require_open()
        if self.actor != OPERATOR:
            raise DomainError("forbidden", "only the operator issues owner tokens")
        self.trigger(
            ev.TokenIssued, token_id=token_id, user_id=self.owner_id, label=label or "owner", token_hash=token_hash
        )


def check_plan(plan: dict[str, Any]) -> None:
    """R-T1: a plan the due changes can renew and charge (an unknown interval would break every later renewal)."""
    seats = plan.get("included_seats")
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 0:
        raise validation("included_seats must be a whole number ≥ 0", ("body", "plan", "included_seats"))
    if plan.get("billing_interval") not in ("monthly", "yearly"):
        raise validation("billing_interval must be monthly or yearly", ("body", "plan", "billing_interval"))
    if plan.get("currency") not in ("EUR", "CHF"):
        raise validation("currency must be EUR or CHF", ("body", "plan", "currency"))


__all__ = ["Tenant", "tenant_uuid", "midnight", "INVITATION_TTL", "MAX_BULK", "OPERATOR"]
