"""The small typed records the Tenant aggregate keeps, keyed by id in dicts on the aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Member:
    """An active membership (R-M1); removed members leave the aggregate, their history stays in events."""

    user_id: str
    email: str
    name: str
    role: str
    seat_order: int
    joined_at: datetime
    reports_to: str | None = None


@dataclass
class Invitation:
    """An invitation (R-I1); `token_hash` is the current token's hash, replaced on resend."""

    invitation_id: str
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    token_hash: str
    status: str = "pending"


@dataclass
class Addon:
    """A seat add-on (R-S2, R-S3); `charged_through` is the start of the first month not yet charged."""

    addon_id: str
    kind: str
    seats: int
    monthly_price: str
    currency: str
    purchased_at: datetime
    charged_through: datetime
    status: str = "active"
    ends_at: datetime | None = None


@dataclass
class Grant:
    """An active grant of a permission (or, later, a role) at a scope (R-G1)."""

    grant_id: str
    user_id: str
    permission: str | None
    role: str | None
    scope: str
    resource_type: str | None
    resource_id: str | None
    expires_at: datetime | None
    granted_by: str
    granted_at: datetime
    starts_at: datetime | None = None  # R-G3: gives nothing before it; None once started (or never scheduled)


@dataclass
class Token:
    """A member API token; only its hash is kept."""

    token_id: str
    user_id: str
    label: str | None
    token_hash: str


@dataclass
class CustomRole:
    """A tenant's own role (R-P7): roles it includes and `[permission, scope]` pairs it adds."""

    role_id: str
    name: str
    includes: list[str]
    permissions: list[list[str]]


@dataclass
class Restriction:
    """An active restriction (R-P8): one permission withdrawn from one member at a scope."""

    restriction_id: str
    user_id: str
    permission: str
    scope: str
    resource_type: str | None
    resource_id: str | None
    created_by: str
    created_at: datetime


STATE_CLASSES = (Member, Invitation, Addon, Grant, Token, CustomRole, Restriction)
