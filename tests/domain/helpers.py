"""A tenant driven directly, without a database: the unit tests' stand-in for `AccessLedger`.

`Sim` does what the application does around each command (apply due changes up to the simulated now, run the
command inside `acting(...)`, collect the events as "recorded"), and checks R-X2 on every rejection: the
aggregate's version, pending events and state are exactly what they were before the command.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.billing import default_term_end
from domain.due import apply_due_changes
from domain.errors import DomainError
from domain.tenant.aggregate import Tenant
from domain.tenant.metadata import OPERATOR, SYSTEM, EventContext, acting

T0 = datetime(2030, 1, 10, 9, 0, tzinfo=UTC)
OWNER = "olga"


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def state_of(tenant: Tenant) -> dict[str, Any]:
    """A deep copy of everything the aggregate holds, pending events and version included."""
    return copy.deepcopy(vars(tenant))


class Sim:
    """One tenant, a simulated clock and the list of events recorded so far."""

    def __init__(
        self,
        *,
        included_seats: int = 5,
        billing_interval: str = "monthly",
        currency: str = "EUR",
        term_start: date = date(2030, 1, 1),
        term_end: date | None = None,
        min_admins: int = 1,
        now: datetime = T0,
        owner: str = OWNER,
    ) -> None:
        self.now = now
        self.owner = owner
        self.recorded: list[Any] = []
        self.last: list[Any] = []  # the events of the last successful command
        self.tokens: dict[str, str] = {}  # invitation id → current token hash
        self._serial = 0
        context = EventContext(OPERATOR, now)
        with acting(context):
            self.tenant = Tenant.open(
                tenant_id="acme",
                name="Acme",
                plan={
                    "name": "expert",
                    "included_seats": included_seats,
                    "billing_interval": billing_interval,
                    "currency": currency,
                },
                term_start=term_start,
                term_end=term_end or default_term_end(term_start, billing_interval),
                owner={"user_id": owner, "email": f"{owner}@acme.example", "name": owner.title()},
                min_admins=min_admins,
                owner_token_id="tok_owner",
                owner_token_hash="hash-owner",
            )
        self.recorded += self.tenant.collect_events()
        self.due()

    # ----------------------------------------------------------------- time and recording

    def due(self) -> list[Any]:
        """Apply due changes up to now (as the sweep would) and record them."""
        apply_due_changes(self.tenant, self.now, EventContext(SYSTEM, self.now))
        return self._record()

    def at(self, instant: datetime) -> list[Any]:
        """Move the simulated clock forward to `instant` and record what became due."""
        assert instant >= self.now, "the clock never goes back"
        self.now = instant
        return self.due()

    def later(self, **delta: float) -> list[Any]:
        """Move the clock forward by a timedelta's keyword arguments."""
        return self.at(self.now + timedelta(**delta))

    def _record(self) -> list[Any]:
        events = list(self.tenant.collect_events())
        self.recorded += events
        return events

    def of(self, *types: type) -> list[Any]:
        """Recorded events of the given types, in order."""
        return [e for e in self.recorded if isinstance(e, types)]

    # ----------------------------------------------------------------- commands

    def do(self, actor: str, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run `tenant.<command>` as `actor` at now and record its events; a rejection must change nothing."""
        self.due()
        before = state_of(self.tenant)
        with acting(EventContext(actor, self.now, request_id=f"req_{len(self.recorded)}")):
            try:
                result = getattr(self.tenant, command)(*args, **kwargs)
            except DomainError:
                assert state_of(self.tenant) == before, f"rejected {command} changed the aggregate (R-X2)"
                raise
        self.last = self._record()
        return result

    def expect_rejection(self, code: str, actor: str, command: str, *args: Any, **kwargs: Any) -> DomainError:
        """Run a command that must be rejected with `code` and record nothing (R-X2)."""
        self.due()
        version = self.tenant.version
        with pytest.raises(DomainError) as info:
            self.do(actor, command, *args, **kwargs)
        assert info.value.code == code, f"expected {code}, got {info.value.code}: {info.value.detail}"
        assert self.tenant.version == version
        assert not self.tenant.pending_events
        return info.value

    # ----------------------------------------------------------------- shorthands

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def add(self, user_id: str, role: str, by: str | None = None, email: str | None = None) -> Any:
        """Add a member directly (R-M2) as `by` (the owner by default)."""
        n = self.serial()
        return self.do(
            by or self.owner,
            "add_member",
            user_id=user_id,
            email=email or f"{user_id}@acme.example",
            name=user_id.title(),
            role=role,
            token_id=f"tok_{user_id}_{n}",
            token_hash=f"hash-{user_id}-{n}",
        )

    def invite(self, email: str, role: str, by: str | None = None) -> str:
        """Send an invitation (R-I1); remembers its token hash under the invitation id."""
        token_hash = f"hash-inv-{self.serial()}"
        invitation_id = self.do(by or self.owner, "invite", email=email, role=role, token_hash=token_hash)
        self.tokens[invitation_id] = token_hash
        return invitation_id

    def accept(self, invitation_id: str, user_id: str) -> Any:
        """Accept an invitation with its current token, as the new member (R-I2)."""
        n = self.serial()
        return self.do(
            user_id,
            "accept_invitation",
            token_hash=self.tokens[invitation_id],
            user_id=user_id,
            name=user_id.title(),
            token_id=f"tok_{user_id}_{n}",
            member_token_hash=f"hash-{user_id}-{n}",
        )

    def grant(
        self,
        user_id: str,
        permission: str,
        scope: str = "all",
        resource: dict[str, str] | None = None,
        by: str | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        """Grant a permission (R-G1) as `by` (the owner by default)."""
        return self.do(
            by or self.owner,
            "grant",
            user_id=user_id,
            permission=permission,
            scope=scope,
            resource=resource,
            expires_at=expires_at,
        )

    def assign(self, user_id: str, *lead_ids: str, by: str | None = None) -> int:
        """Assign leads to a member (R-A1) as `by` (the owner by default)."""
        return self.do(by or self.owner, "assign", "lead", list(lead_ids), user_id)

    def buy_addon(self, by: str | None = None) -> str:
        """Buy a `user-seats` add-on (R-S2)."""
        return self.do(by or self.owner, "purchase_addon", "user-seats")["addon_id"]


def lead(lead_id: str) -> dict[str, str]:
    """A resource body for one lead."""
    return {"type": "lead", "id": lead_id}
