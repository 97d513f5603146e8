"""API.md's resources as response models, for the OpenAPI document (answers are shaped by the read side)."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(Out):
    """RFC 9457 problem details with API.md's `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    missing_permission: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, description="[{loc, msg}] for validation errors")


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None


class ResourceOut(Out):
    type: str
    id: str


class Plan(Out):
    name: str
    included_seats: int
    billing_interval: Literal["monthly", "yearly"]
    currency: str


class Seats(Out):
    capacity: int
    used: int
    members: int
    pending_invitations: int
    free: int


class Addon(Out):
    addon_id: str
    kind: str
    seats: int
    monthly_price: str
    currency: str
    status: Literal["active", "cancellation_scheduled", "ended"]
    purchased_at: str
    ends_at: str | None


class ScheduledRemoval(Out):
    kind: Literal["invitation", "member"]
    id: str
    effective_at: str


class Tenant(Out):
    tenant_id: str
    name: str
    status: Literal["active", "cancellation_scheduled", "closed"]
    plan: Plan
    term_start: str
    term_end: str
    seats: Seats
    addons: list[Addon]
    min_admins: int
    cancellation_effective_at: str | None
    scheduled_removals: list[ScheduledRemoval] | None = Field(
        default=None, description="Only for callers holding users.manage (R-S5)."
    )


class Member(Out):
    user_id: str
    email: str
    name: str
    role: str
    seat_order: int
    reports_to: str | None
    status: Literal["active", "removed"]
    joined_at: str
    removed_at: str | None
    removal_reason: str | None


class Invitation(Out):
    invitation_id: str
    email: str
    role: str
    status: Literal["pending", "accepted", "declined", "revoked", "expired"]
    invited_by: str
    created_at: str
    expires_at: str


class Charge(Out):
    charge_id: str
    addon_id: str
    kind: Literal["prorated", "monthly"]
    period_start: str
    period_end: str
    amount: str
    currency: str
    charged_at: str


class Grant(Out):
    grant_id: str
    user_id: str
    permission: str | None
    role: str | None
    scope: str
    resource: ResourceOut | None
    starts_at: str | None
    expires_at: str | None
    granted_by: str
    granted_at: str
    status: Literal["scheduled", "active", "revoked", "expired"]


class RolePermission(Out):
    """A permission a role gives, at its scope (the request side's `ScopedPermission`, as answered)."""

    permission: str
    scope: str


class Role(Out):
    role_id: str
    name: str
    builtin: bool
    includes: list[str]
    permissions: list[RolePermission]


class Restriction(Out):
    restriction_id: str
    user_id: str
    permission: str
    scope: str
    resource: ResourceOut | None
    created_by: str
    created_at: str
    status: Literal["active", "lifted"]


class Assignment(Out):
    resource_type: str
    resource_id: str
    user_id: str
    assigned_at: str


class Via(Out):
    kind: Literal["role", "grant", "role_grant", "assignment", "team"]
    role: str | None = None
    grant_id: str | None = None
    resource: ResourceOut | None = None
    user_id: str | None = None


class Decision(Out):
    allowed: bool
    scope: str | None
    reason: Literal["not_a_member", "tenant_closed", "not_permitted", "not_assigned", "restricted"] | None
    via: list[Via]
    restriction_id: str | None
    as_of: str | None
    position: int


class AuditEntry(Out):
    position: int
    tenant_id: str
    sequence: int
    event_type: str
    occurred_at: str
    recorded_at: str
    actor: str
    subject: str | None
    request_id: str | None
    reason: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class Explanation(Decision):
    events: list[AuditEntry]


class Withdrawal(Out):
    """A restriction narrower than `all` withdrawing part of a held permission (R-P8)."""

    restriction_id: str
    scope: str
    resource: ResourceOut | None


class HeldPermission(Out):
    permission: str
    scope: str
    resources: list[ResourceOut] | None = None
    restrictions: list[Withdrawal] | None = Field(
        default=None, description="Narrower restrictions (R-P8); one at scope all removes the permission instead."
    )


class EffectivePermissions(Out):
    user_id: str
    role: str | None
    permissions: list[HeldPermission]
    as_of: str | None
    position: int


class ReportMember(Out):
    user_id: str
    email: str
    name: str
    role: str
    permissions: list[HeldPermission]


class AccessReport(Out):
    as_of: str | None
    members: list[ReportMember]


class Mismatch(Out):
    sequence: int
    position: int
    problem: str


class Verification(Out):
    ok: bool
    entries: int
    first_mismatch: Mismatch | None


class ResourceNode(Out):
    type: str
    id: str
    parent: ResourceOut | None
    ancestors: list[ResourceOut] = []


# ----------------------------------------------------------------- command answers


class Positioned(Out):
    position: int


class TenantOpened(Positioned):
    tenant: Tenant
    owner_token: str | None


class TenantChanged(Positioned):
    tenant: Tenant


class MemberCreated(Positioned):
    member: Member
    token: str | None


class MemberChanged(Positioned):
    member: Member


class TokenCreated(Positioned):
    token_id: str
    token: str | None


class InvitationCreated(Positioned):
    invitation: Invitation
    token: str | None


class InvitationChanged(Positioned):
    invitation: Invitation


class InvitationAccepted(Positioned):
    tenant_id: str
    member: Member
    token: str | None


class ChargeAmount(Out):
    amount: str
    currency: str


class AddonPurchased(Positioned):
    addon: Addon
    charge: ChargeAmount


class AddonChanged(Positioned):
    addon: Addon


class GrantChanged(Positioned):
    grant: Grant


class RoleChanged(Positioned):
    role: Role


class RestrictionChanged(Positioned):
    restriction: Restriction


class ResourceChanged(Positioned):
    resource: ResourceNode


class Assigned(Positioned):
    assigned: int


class CheckResults(Out):
    results: list[Decision]


class ClockSet(Positioned):
    now: str
