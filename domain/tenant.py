"""The Tenant aggregate: one per customer organisation, owning every rule that must hold at once.

Each command checks its rule (in API.md's order: tenant_closed, forbidden, not_found, owner_immutable, escalation,
then the rule's own conflicts, min_admins, seat_limit_reached) and triggers events; `domain.tenant_events` applies
them. Commands read the acting user from the event context (`domain.events.acting`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from domain import billing
from domain import tenant_events as ev
from domain.access import holds, user_managers
from domain.errors import DomainError, not_found, validation
from domain.events import OPERATOR, current_context, meta_of
from domain.permissions import CATALOG, NEVER_GRANTABLE, OWNER, lookup_role, role_permissions

TENANT_NAMESPACE = uuid.UUID("5b0c8a8e-0d1c-4f5e-9a59-6f1d0a7c2b11")
INVITATION_TTL = timedelta(days=7)
MAX_BULK = 10_000


def tenant_uuid(tenant_id: str) -> uuid.UUID:
    """The aggregate id of a tenant: deterministic, so two racing openings of one tenant cannot both win."""
    return uuid.uuid5(TENANT_NAMESPACE, tenant_id)


def midnight(day: date) -> datetime:
    """00:00 UTC at the start of `day` (terms and cancellations take effect then)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Tenant(Aggregate):
    """A customer organisation: owner, members, seats, invitations, add-ons, grants, assignments, tokens."""

    def __init__(self) -> None:
        """State is set by `TenantOpened.apply`."""

    # ----------------------------------------------------------------- plumbing

    def trigger(self, event_class: type[ev.TenantEvent], **data: Any) -> None:
        """Trigger an event with the current context's metadata."""
        self.trigger_event(event_class, tenant_id=self.tenant_id, **meta_of(current_context()), **data)
        self.last_occurred_at = max(self.last_occurred_at, current_context().occurred_at)

    def next_id(self, prefix: str) -> str:
        """A short id unique within the tenant, derived from the aggregate's version (deterministic on replay)."""
        return f"{prefix}_{self.version + len(self.pending_events) + 1}"

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
        if lookup_role(role) is None:
            raise validation(f"unknown role {role!r}", ("body", "role"))
        if role == OWNER:
            raise DomainError("owner_immutable", "the owner role is never given to anyone else")
        self.check_no_escalation(role_permissions(role).items())

    def check_no_escalation(self, wanted: Any, resource: tuple[str, str] | None = None) -> None:
        """R-P6: the actor must hold every (permission, scope) they give, at that scope or wider."""
        for permission, scope in wanted:
            if not holds(self, self.actor, permission, scope, resource):
                raise DomainError(
                    "escalation",
                    f"you cannot give {permission} at scope {scope}: you do not hold it there",
                    permission=permission,
                    scope=scope,
                )

    def check_min_admins(self, before: int) -> None:
        """R-M4: raised after the command's events are applied, on the pending (unsaved) state."""
        after = user_managers(self)
        if after < before and after < self.min_admins:
            raise DomainError(
                "min_admins",
                f"at least {self.min_admins} members must hold users.manage; this would leave {after}",
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
        self.trigger(ev.SubscriptionCancellationScheduled, effective_at=midnight(self.term_end))

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
        before = user_managers(self)
        self.trigger(ev.MemberRoleChanged, user_id=user_id, old_role=member.role, new_role=role)
        self.check_min_admins(before)

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
        before = user_managers(self)
        self.evict(user_id, "left" if leaving else "removed")
        self.check_min_admins(before)

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
        self.trigger(ev.TokenRevoked, token_id=token_id, user_id=token.user_id, reason="revoked")

    # ----------------------------------------------------------------- invitations (R-I1…R-I3)

    def invite(self, *, email: str, role: str, token_hash: str, now: datetime) -> str:
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
            expires_at=now + INVITATION_TTL,
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

    def resend_invitation(self, invitation_id: str, token_hash: str, now: datetime) -> None:
        self.require("users.manage")
        invitation = self.pending_invitation(invitation_id)
        self.trigger(
            ev.InvitationResent,
            invitation_id=invitation_id,
            email=invitation.email,
            expires_at=now + INVITATION_TTL,
            token_hash=token_hash,
        )

    def invitation_by_token(self, token_hash: str) -> Any:
        """The invitation whose current token this is: 401 if none, 409 if it is no longer pending (R-I2)."""
        invitation_id = self.invitation_tokens.get(token_hash)
        if invitation_id is None:
            raise DomainError("unauthenticated", "unknown or replaced invitation token")
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

    # ----------------------------------------------------------------- add-ons (R-S2, R-S3)

    def purchase_addon(self, kind: str, now: datetime) -> str:
        self.require("addons.purchase")
        if kind != billing.SEAT_ADDON_KIND:
            raise validation(f"unknown add-on kind {kind!r}", ("body", "kind"))
        addon_id = self.next_id("addon")
        today = now.date()
        start, end = billing.prorated_period(today)
        self.trigger(
            ev.AddOnPurchased,
            addon_id=addon_id,
            kind=kind,
            seats=billing.SEAT_ADDON_SEATS,
            monthly_price=billing.format_money(billing.SEAT_ADDON_MONTHLY_PRICE),
            currency=self.plan["currency"],
            prorated_charge=billing.format_money(billing.prorated_charge(billing.SEAT_ADDON_MONTHLY_PRICE, today)),
            charge_id=f"chg_{addon_id}_{start:%Y%m}",
            period_start=start,
            period_end=end,
        )
        return addon_id

    def addon(self, addon_id: str) -> Any:
        addon = self.addons.get(addon_id)
        if addon is None:
            raise not_found("add-on", addon_id)
        if addon.status == "ended":
            raise DomainError("addon_not_active", f"add-on {addon_id} has ended")
        return addon

    def cancel_addon(self, addon_id: str) -> None:
        self.require("addons.cancel")
        addon = self.addon(addon_id)
        if addon.status == "cancellation_scheduled":
            raise DomainError("cancellation_already_scheduled", f"add-on {addon_id} is already cancelled")
        self.trigger(ev.AddOnCancellationScheduled, addon_id=addon_id, effective_at=midnight(self.term_end))

    def withdraw_addon_cancellation(self, addon_id: str) -> None:
        self.require("addons.cancel")
        addon = self.addon(addon_id)
        if addon.status != "cancellation_scheduled":
            raise DomainError("cancellation_not_scheduled", f"add-on {addon_id} has no cancellation scheduled")
        self.trigger(ev.AddOnCancellationWithdrawn, addon_id=addon_id)

    # ----------------------------------------------------------------- grants (R-G1, R-G2)

    def grant(
        self,
        *,
        user_id: str,
        permission: str,
        scope: str,
        resource: dict[str, str] | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> str:
        self.require("permissions.manage")
        if permission not in CATALOG:
            raise validation(f"unknown permission {permission!r}", ("body", "permission"))
        self.member(user_id)
        target = check_grant_shape(permission, scope, resource)
        if expires_at is not None and expires_at <= now:
            raise validation("expires_at must be in the future", ("body", "expires_at"))
        if permission in NEVER_GRANTABLE:
            raise DomainError("not_grantable", f"{permission} is never granted")
        self.check_no_escalation([(permission, scope)], target)
        grant_id = self.next_id("grant")
        self.trigger(
            ev.PermissionGranted,
            grant_id=grant_id,
            user_id=user_id,
            permission=permission,
            role=None,
            scope=scope,
            resource=resource,
            expires_at=expires_at,
        )
        return grant_id

    def revoke_grant(self, grant_id: str) -> None:
        self.require("permissions.manage")
        grant = self.grants.get(grant_id)
        if grant is None:
            raise not_found("active grant", grant_id)
        before = user_managers(self)
        self.trigger(ev.PermissionRevoked, grant_id=grant_id, user_id=grant.user_id, reason="revoked")
        self.check_min_admins(before)

    # ----------------------------------------------------------------- assignments (R-A1, R-A2)

    def assign(self, resource_type: str, resource_ids: list[str], user_id: str) -> int:
        self.require("leads.assign")
        if not resource_ids or len(resource_ids) > MAX_BULK:
            raise validation(f"resource_ids takes 1 to {MAX_BULK} ids", ("body", "resource_ids"))
        if len(set(resource_ids)) != len(resource_ids):
            raise validation("resource_ids has duplicates", ("body", "resource_ids"))
        self.member(user_id)
        actor = self.actor
        previous = {}
        for resource_id in resource_ids:
            resource = (resource_type, resource_id)
            if not holds(self, actor, "leads.assign", "resource", resource):
                raise DomainError(
                    "forbidden",
                    f"you cannot assign {resource_type}:{resource_id}",
                    missing_permission="leads.assign",
                )
            if resource_type == "lead" and not holds(
                self, user_id, "leads.view_details", "resource", resource, assignee=user_id
            ):
                raise DomainError(
                    "assignee_cannot_access", f"{user_id} could not view the details of lead {resource_id}"
                )
            previous[resource_id] = self.assignments.get(f"{resource_type}:{resource_id}")
        self.trigger(
            ev.ResourcesAssigned,
            resource_type=resource_type,
            resource_ids=list(resource_ids),
            user_id=user_id,
            previous_assignees=previous,
        )
        return len(resource_ids)

    def unassign(self, resource_type: str, resource_id: str) -> None:
        self.require("leads.assign")
        assignee = self.assignments.get(f"{resource_type}:{resource_id}")
        if assignee is None:
            raise not_found("assignment", f"{resource_type}/{resource_id}")
        if not holds(self, self.actor, "leads.assign", "resource", (resource_type, resource_id)):
            raise DomainError("forbidden", "you cannot unassign this resource", missing_permission="leads.assign")
        self.trigger(
            ev.ResourceUnassigned,
            resource_type=resource_type,
            resource_id=resource_id,
            user_id=assignee,
            reason="unassigned",
        )


def check_grant_shape(permission: str, scope: str, resource: dict[str, str] | None) -> tuple[str, str] | None:
    """Validate a grant's scope and resource against the permission's resource type; the resource as a pair."""
    resource_type = CATALOG[permission]
    if scope == "resource":
        if resource is None:
            raise validation("scope resource needs a resource", ("body", "resource"))
        if resource_type is None or resource["type"] != resource_type:
            raise validation(f"{permission} does not apply to {resource['type']} resources", ("body", "resource"))
        return (resource["type"], resource["id"])
    if resource is not None:
        raise validation("a resource is given only with scope resource", ("body", "resource"))
    if resource_type is None and scope != "all":
        raise validation(f"{permission} applies to no resource: its scope is all", ("body", "scope"))
    return None


__all__ = ["Tenant", "tenant_uuid", "midnight", "OPERATOR"]
