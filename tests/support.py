"""Plain helpers shared by every test suite: actors, a standard tenant, the notification log.

Import them as `from tests.support import ...`; the fixtures built on them live in `tests/conftest.py`.
Nothing here touches a database by itself, so unit tests may use it too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.application import AccessLedger, Actor, CommandResult
from domain.tenant.metadata import OPERATOR

START = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
TENANT = "acme"
OWNER = "olga"
OWNER_INFO = {"user_id": OWNER, "email": "olga@acme.example", "name": "Olga Owner"}
BASIC_PLAN = {"name": "basic", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"}


def actor(user_id: str = OWNER, *, request_id: str | None = None, reason: str | None = None, **kw: Any) -> Actor:
    """An Actor for `user_id` with a fresh request id (pass `idempotency_key=` to set one)."""
    return Actor(user_id, request_id or f"req_{uuid.uuid4().hex[:12]}", reason, kw.get("idempotency_key"))


def operator(**kw: Any) -> Actor:
    """The platform operator (R-T1)."""
    return actor(OPERATOR, **kw)


def owner(**kw: Any) -> Actor:
    """The standard tenant's owner, olga."""
    return actor(OWNER, **kw)


@dataclass
class Opened:
    """A tenant opened by `open_tenant`: its id, owner and the owner's one-time API token."""

    tenant_id: str
    owner_id: str
    owner_token: str
    owner_token_id: str
    result: CommandResult


def open_tenant(
    ledger: AccessLedger,
    tenant_id: str = TENANT,
    *,
    included_seats: int = 5,
    billing_interval: str = "monthly",
    currency: str = "EUR",
    owner_info: dict[str, str] | None = None,
    min_admins: int = 1,
    **plan: Any,
) -> Opened:
    """Open a tenant as the operator: plan "basic" (5 seats, monthly, EUR) and owner olga unless told otherwise."""
    info = dict(owner_info or OWNER_INFO)
    result = ledger.open_tenant(
        operator(),
        tenant_id=tenant_id,
        name=f"{tenant_id.title()} Ltd",
        plan={
            **BASIC_PLAN,
            "included_seats": included_seats,
            "billing_interval": billing_interval,
            "currency": currency,
            **plan,
        },
        owner=info,
        min_admins=min_admins,
    )
    return Opened(tenant_id, info["user_id"], result.values["owner_token"], result.values["owner_token_id"], result)


def add_member(
    ledger: AccessLedger, user_id: str, role: str = "broker", *, tenant_id: str = TENANT, by: str = OWNER
) -> CommandResult:
    """Add `user_id` directly (R-M2) with e-mail `<user_id>@<tenant>.example`."""
    return ledger.add_member(
        tenant_id,
        actor(by),
        user_id=user_id,
        email=f"{user_id}@{tenant_id}.example",
        name=user_id.title(),
        role=role,
    )


def recorded_events(ledger: AccessLedger, start: int = 1, limit: int = 1_000_000) -> list[Any]:
    """Every recorded domain event from global position `start`, in order."""
    notifications = ledger.recorder.select_notifications(start, limit)
    return [ledger.mapper.to_domain_event(n) for n in notifications]


def event_names(ledger: AccessLedger, start: int = 1) -> list[str]:
    """The class names of the recorded events from `start`, in order."""
    return [type(e).__name__ for e in recorded_events(ledger, start)]


class TickingClock:
    """A clock that has moved on by one second every time it is read."""

    def __init__(self, start: datetime) -> None:
        self.instant = start

    def now(self) -> datetime:
        current = self.instant
        self.instant += timedelta(seconds=1)
        return current
