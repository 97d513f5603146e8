"""Every event of a tenant's history, named as API.md lists them; each `apply` only changes state.

The commands that decide which events to trigger live in `domain.tenant.aggregate`; keeping state changes here means a
snapshot, a replay and a live command all evolve the aggregate through the same code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.tenant.keys import remember
from domain.tenant.records import Addon, Grant, Invitation, Member, Token


class TenantEvent(Aggregate.Event):
    """Base of every tenant event: the metadata of R-L1 (see `domain.tenant.metadata`)."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()

    tenant_id: str
    occurred_at: datetime
    actor: str
    request_id: str | None
    caller_reason: str | None
    idempotency_key: str | None

    def mutate(self, aggregate: Any) -> Any:
        aggregate = super().mutate(aggregate)
        if self.idempotency_key is not None:
            remember(aggregate, self.idempotency_key, self.originator_version, self.occurred_at)
        return aggregate


class TenantOpened(Aggregate.Created, TenantEvent):
    """R-T1: the tenant exists, its owner is a member with seat order 0 and an API token."""

    SECRET_FIELDS = ("owner_token_hash",)

    name: str
    plan: dict[str, Any]
    term_start: date
    term_end: date
    owner: dict[str, str]
    user_id: str
    min_admins: int
    owner_token_id: str
    owner_token_hash: str

    def apply(self, tenant: Any) -> None:
        tenant.tenant_id = self.tenant_id
        tenant.name = self.name
        tenant.plan = dict(self.plan)
        tenant.term_start = self.term_start
        tenant.term_end = self.term_end
        tenant.term_anchor_day = self.term_end.day
        tenant.status = "active"
        tenant.cancellation_effective_at = None
        tenant.min_admins = self.min_admins
        tenant.owner_id = self.user_id
        tenant.members = {
            self.user_id: Member(self.user_id, self.owner["email"], self.owner["name"], "owner", 0, self.occurred_at)
        }
        tenant.next_seat_order = 1
        tenant.invitations = {}
        tenant.invitation_tokens = {}
        tenant.addons = {}
        tenant.grants = {}
        tenant.assignments = {}
        tenant.tokens = {self.owner_token_id: Token(self.owner_token_id, self.user_id, "owner", self.owner_token_hash)}
        tenant.custom_roles = {}
        tenant.restrictions = {}
        tenant.parents = {}
        tenant.last_occurred_at = self.occurred_at


class PolicyChanged(TenantEvent):
    min_admins: int
    old_min_admins: int

    def apply(self, tenant: Any) -> None:
        tenant.min_admins = self.min_admins


class SubscriptionCancellationScheduled(TenantEvent):
    effective_at: datetime

    def apply(self, tenant: Any) -> None:
        tenant.status = "cancellation_scheduled"
        tenant.cancellation_effective_at = self.effective_at


class SubscriptionCancellationWithdrawn(TenantEvent):
    effective_at: datetime

    def apply(self, tenant: Any) -> None:
        tenant.status = "active"
        tenant.cancellation_effective_at = None


class TermRenewed(TenantEvent):
    term_start: date
    term_end: date

    def apply(self, tenant: Any) -> None:
        tenant.term_start = self.term_start
        tenant.term_end = self.term_end


class SubscriptionEnded(TenantEvent):
    ended_at: datetime

    def apply(self, tenant: Any) -> None:
        tenant.status = "closed"


class MemberAdded(TenantEvent):
    user_id: str
    email: str
    name: str
    role: str
    seat_order: int
    via: str
    invitation_id: str | None

    def apply(self, tenant: Any) -> None:
        tenant.members[self.user_id] = Member(
            self.user_id, self.email, self.name, self.role, self.seat_order, self.occurred_at
        )
        tenant.next_seat_order = max(tenant.next_seat_order, self.seat_order + 1)


class MemberRoleChanged(TenantEvent):
    user_id: str
    old_role: str
    new_role: str

    def apply(self, tenant: Any) -> None:
        tenant.members[self.user_id].role = self.new_role


class MemberRemoved(TenantEvent):
    user_id: str
    reason: str
    email: str
    seat_order: int

    def apply(self, tenant: Any) -> None:
        del tenant.members[self.user_id]


class InvitationSent(TenantEvent):
    SECRET_FIELDS = ("token_hash",)

    invitation_id: str
    email: str
    role: str
    expires_at: datetime
    token_hash: str

    def apply(self, tenant: Any) -> None:
        tenant.invitations[self.invitation_id] = Invitation(
            self.invitation_id,
            self.email,
            self.role,
            self.actor,
            self.occurred_at,
            self.expires_at,
            self.token_hash,
        )
        tenant.invitation_tokens[self.token_hash] = self.invitation_id


class InvitationResent(TenantEvent):
    SECRET_FIELDS = ("token_hash",)

    invitation_id: str
    email: str
    expires_at: datetime
    token_hash: str

    def apply(self, tenant: Any) -> None:
        invitation = tenant.invitations[self.invitation_id]
        tenant.invitation_tokens.pop(invitation.token_hash, None)
        invitation.token_hash = self.token_hash
        invitation.expires_at = self.expires_at
        tenant.invitation_tokens[self.token_hash] = self.invitation_id


class _InvitationEnded(TenantEvent):
    """An invitation stops being pending; its seat is free again (R-I2)."""

    STATUS = ""
    invitation_id: str
    email: str

    def apply(self, tenant: Any) -> None:
        tenant.invitations[self.invitation_id].status = self.STATUS


class InvitationAccepted(_InvitationEnded):
    STATUS = "accepted"
    user_id: str


class InvitationDeclined(_InvitationEnded):
    STATUS = "declined"


class InvitationRevoked(_InvitationEnded):
    STATUS = "revoked"
    reason: str


class InvitationExpired(_InvitationEnded):
    STATUS = "expired"


class AddOnPurchased(TenantEvent):
    addon_id: str
    kind: str
    seats: int
    monthly_price: str
    currency: str
    prorated_charge: str
    charge_id: str
    period_start: date
    period_end: date

    def apply(self, tenant: Any) -> None:
        first_unpaid = datetime(self.period_end.year, self.period_end.month, 1, tzinfo=self.occurred_at.tzinfo)
        tenant.addons[self.addon_id] = Addon(
            self.addon_id,
            self.kind,
            self.seats,
            self.monthly_price,
            self.currency,
            self.occurred_at,
            first_unpaid,
        )


class AddOnCharged(TenantEvent):
    addon_id: str
    charge_id: str
    amount: str
    currency: str
    period_start: date
    period_end: date

    def apply(self, tenant: Any) -> None:
        addon = tenant.addons[self.addon_id]
        addon.charged_through = datetime(self.period_end.year, self.period_end.month, 1, tzinfo=self.occurred_at.tzinfo)


class AddOnCancellationScheduled(TenantEvent):
    addon_id: str
    effective_at: datetime

    def apply(self, tenant: Any) -> None:
        addon = tenant.addons[self.addon_id]
        addon.status = "cancellation_scheduled"
        addon.ends_at = self.effective_at


class AddOnCancellationWithdrawn(TenantEvent):
    addon_id: str

    def apply(self, tenant: Any) -> None:
        addon = tenant.addons[self.addon_id]
        addon.status = "active"
        addon.ends_at = None


class AddOnEnded(TenantEvent):
    addon_id: str
    seats: int

    def apply(self, tenant: Any) -> None:
        addon = tenant.addons[self.addon_id]
        addon.status = "ended"
        addon.ends_at = self.occurred_at


class PermissionGranted(TenantEvent):
    grant_id: str
    user_id: str
    permission: str | None
    role: str | None
    scope: str
    resource: dict[str, str] | None
    expires_at: datetime | None
    starts_at: datetime | None = None  # R-G3 (events recorded before it existed read None)

    def apply(self, tenant: Any) -> None:
        resource = self.resource or {}
        tenant.grants[self.grant_id] = Grant(
            self.grant_id,
            self.user_id,
            self.permission,
            self.role,
            self.scope,
            resource.get("type"),
            resource.get("id"),
            self.expires_at,
            self.actor,
            self.occurred_at,
            self.starts_at,
        )


class GrantStarted(TenantEvent):
    """R-G3: a scheduled grant gives from now on (a due change, recorded at its `starts_at`)."""

    grant_id: str
    user_id: str

    def apply(self, tenant: Any) -> None:
        tenant.grants[self.grant_id].starts_at = None


class _GrantEnded(TenantEvent):
    grant_id: str
    user_id: str

    def apply(self, tenant: Any) -> None:
        del tenant.grants[self.grant_id]


class PermissionRevoked(_GrantEnded):
    reason: str


class GrantExpired(_GrantEnded):
    pass


class ResourcesAssigned(TenantEvent):
    resource_type: str
    resource_ids: list[str]
    user_id: str
    previous_assignees: dict[str, str | None]

    def apply(self, tenant: Any) -> None:
        prefix = self.resource_type + ":"
        for resource_id in self.resource_ids:
            tenant.assignments[prefix + resource_id] = self.user_id


class ResourceUnassigned(TenantEvent):
    resource_type: str
    resource_id: str
    user_id: str
    reason: str

    def apply(self, tenant: Any) -> None:
        tenant.assignments.pop(f"{self.resource_type}:{self.resource_id}", None)


class TokenIssued(TenantEvent):
    SECRET_FIELDS = ("token_hash",)

    token_id: str
    user_id: str
    label: str | None
    token_hash: str

    def apply(self, tenant: Any) -> None:
        tenant.tokens[self.token_id] = Token(self.token_id, self.user_id, self.label, self.token_hash)


class TokenRevoked(TenantEvent):
    token_id: str
    user_id: str
    reason: str

    def apply(self, tenant: Any) -> None:
        del tenant.tokens[self.token_id]


def subject_of(event: Any) -> str | None:
    """The user an event concerns, if any (R-L1 `subject`)."""
    return getattr(event, "user_id", None)
