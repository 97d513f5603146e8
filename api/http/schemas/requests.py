"""Request bodies with API.md's limits. Unknown fields are rejected (`extra="forbid"`): a misspelt optional
field would otherwise be silently dropped, e.g. `reports-to` read as "report to the owner"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)

from domain.permissions import CATALOG, SCOPES

RESERVED_USER_IDS = frozenset({"operator", "system", "invitee"})

UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@+:-]{1,128}$")]
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@+:-]{1,128}$")]
ResourceType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@+:-]{1,128}$")]
TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{3,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
RoleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{2,40}$")]
Permission = Literal[tuple(CATALOG)]  # type: ignore[valid-type]
Scope = Literal[tuple(reversed(SCOPES))]  # type: ignore[valid-type]
Token = Annotated[str, StringConstraints(min_length=1, max_length=512)]


# Dates and instants a ledger can carry forward (renewals, charges) without leaving the calendar's range.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def _sane_date(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _sane_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}") from None
    _sane_date(utc.date())
    return utc


PlanDate = Annotated[date, AfterValidator(_sane_date)]
Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]


def _not_reserved(user_id: str) -> str:
    if user_id in RESERVED_USER_IDS:
        raise ValueError(f"{user_id!r} is reserved for the audit's actors (operator, system, invitee)")
    return user_id


NewUserId = Annotated[UserId, AfterValidator(_not_reserved)]


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(v) for v in value)
    return False


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold U+0000: a recorded event carrying one would stop every projection for good.
        if _contains_nul(data):
            raise ValueError("text must not contain NUL characters (U+0000)")
        return data


class PlanIn(Body):
    name: Name
    included_seats: StrictInt = Field(ge=0, le=1_000_000)
    billing_interval: Literal["monthly", "yearly"]
    currency: Literal["EUR", "CHF"]
    term_start: PlanDate | None = None
    term_end: PlanDate | None = None


class PersonIn(Body):
    user_id: NewUserId
    email: Email
    name: Name


class OpenTenantIn(Body):
    tenant_id: TenantId | None = Field(default=None, description="Generated from the name when absent.")
    name: Name
    plan: PlanIn
    owner: PersonIn
    min_admins: StrictInt = Field(default=1, ge=1, le=10_000)


class PolicyIn(Body):
    min_admins: StrictInt = Field(ge=1, le=10_000)


class AddMemberIn(PersonIn):
    role: RoleId


class RoleChangeIn(Body):
    role: RoleId


class TokenIn(Body):
    label: Name | None = None


class InviteIn(Body):
    email: Email
    role: RoleId


class AcceptIn(Body):
    token: Token
    user_id: NewUserId
    name: Name


class DeclineIn(Body):
    token: Token


class AddonIn(Body):
    kind: Literal["user-seats"]


class ResourceRef(Body):
    type: ResourceType
    id: ResourceId


class GrantIn(Body):
    user_id: UserId
    permission: Permission | None = None
    role: RoleId | None = Field(
        default=None, description="A role grant on one resource (R-P9), instead of a permission."
    )
    scope: Scope
    resource: ResourceRef | None = None
    starts_at: Instant | None = Field(default=None, description="R-G3: the grant gives nothing before this instant.")
    expires_at: Instant | None = None

    @model_validator(mode="after")
    def _one_of(self) -> GrantIn:
        if (self.permission is None) == (self.role is None):
            raise ValueError("give exactly one of permission and role")
        return self


class ScopedPermission(Body):
    permission: Permission
    scope: Scope


class RoleUpdateIn(Body):
    name: Name
    includes: list[RoleId] = Field(max_length=100)
    permissions: list[ScopedPermission] = Field(max_length=500)


class RoleIn(RoleUpdateIn):
    role_id: RoleId


class RestrictionIn(Body):
    user_id: UserId
    permission: Permission
    scope: Scope = "all"
    resource: ResourceRef | None = None


class ManagerIn(Body):
    reports_to: UserId | None


class ParentIn(Body):
    parent: ResourceRef | None


class AssignIn(Body):
    resource_type: ResourceType
    resource_ids: list[ResourceId] = Field(min_length=1, max_length=10_000)
    user_id: UserId


class CheckIn(Body):
    user_id: UserId
    permission: Permission
    resource: ResourceRef | None = None


class BatchCheckIn(Body):
    checks: list[CheckIn] = Field(max_length=1_000)
    as_of: Instant | None = None


class ClockIn(Body):
    now: Instant
