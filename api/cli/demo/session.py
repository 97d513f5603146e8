"""The engine under `accessledger demo`: commands on in-memory tenants, saved a simulated day at a time.

Loading and saving the aggregate once per command costs a database round trip each; a year of history is ~10,000
commands, so the demo keeps each tenant loaded and saves it once per simulated day. Every command still goes the
application's way: due changes first (R-K1), the aggregate's own rule checks, the event context of its actor.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from domain.application import AccessLedger, Actor, hash_token, new_invitation_token, new_token
from domain.clock import ManualClock
from domain.due import apply_due_changes
from domain.tenant.aggregate import Tenant
from domain.tenant.metadata import SYSTEM, EventContext, acting


def lead_order(lead_id: str) -> tuple[str, int]:
    """`L-9` before `L-10`: leads are listed in the order they came in."""
    prefix, _, number = lead_id.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (lead_id, 0)


class Office:
    """One tenant held in memory between saves, with the tokens the story needs to accept invitations."""

    def __init__(self, world: World, tenant_id: str) -> None:
        self.world = world
        self.tenant_id = tenant_id
        self.tenant: Tenant = world.app.load(tenant_id)
        self.invitation_tokens: dict[str, str] = {}  # e-mail -> current invitation token
        self.open_leads: dict[str, date] = {}  # lead id -> the day it closes
        self.lead_counter = 0

    def run(self, actor: str, command: Callable[[Tenant], Any], reason: str | None = None) -> Any:
        """Apply due changes, then run `command` as `actor` at the world's current instant."""
        now = self.world.clock.now()
        context = EventContext(actor=actor, occurred_at=now, request_id=self.world.request_id(), reason=reason)
        apply_due_changes(self.tenant, now, context)
        with acting(context):
            return command(self.tenant)

    def save(self) -> None:
        if self.tenant.pending_events:
            self.world.app.save(self.tenant)

    # ----------------------------------------------------------------- commands the story uses

    def add(self, actor: str, user_id: str, name: str, role: str, email: str, reason: str | None = None) -> None:
        token_hash = hash_token(new_token())
        self.run(
            actor,
            lambda t: t.add_member(
                user_id=user_id,
                email=email,
                name=name,
                role=role,
                token_id=self.world.token_id(),
                token_hash=token_hash,
            ),
            reason,
        )

    def invite(self, actor: str, email: str, role: str, reason: str | None = None) -> str:
        token = new_invitation_token(self.tenant_id)
        self.invitation_tokens[email] = token
        return self.run(actor, lambda t: t.invite(email=email, role=role, token_hash=hash_token(token)), reason)

    def resend(self, actor: str, email: str, invitation_id: str) -> None:
        token = new_invitation_token(self.tenant_id)
        self.invitation_tokens[email] = token
        self.run(actor, lambda t: t.resend_invitation(invitation_id, hash_token(token)))

    def accept(self, email: str, user_id: str, name: str) -> None:
        token_hash = hash_token(self.invitation_tokens.pop(email))
        member_hash = hash_token(new_token())
        token_id = self.world.token_id()
        self.run(
            user_id,
            lambda t: t.accept_invitation(
                token_hash=token_hash, user_id=user_id, name=name, token_id=token_id, member_token_hash=member_hash
            ),
        )

    def decline(self, email: str) -> None:
        token_hash = hash_token(self.invitation_tokens.pop(email))
        self.run("invitee", lambda t: t.decline_invitation(token_hash))

    def grant(
        self,
        actor: str,
        user_id: str,
        permission: str,
        scope: str,
        resource: tuple[str, str] | None = None,
        days: float | None = None,
        reason: str | None = None,
    ) -> str:
        now = self.world.clock.now()
        expires_at = now + timedelta(days=days) if days else None
        target = {"type": resource[0], "id": resource[1]} if resource else None
        return self.run(
            actor,
            lambda t: t.grant(
                user_id=user_id, permission=permission, scope=scope, resource=target, expires_at=expires_at
            ),
            reason,
        )

    def assign(self, actor: str, lead_ids: list[str], user_id: str, reason: str | None = None) -> None:
        self.run(actor, lambda t: t.assign("lead", lead_ids, user_id), reason)

    def unassign(self, actor: str, lead_id: str, reason: str | None = None) -> None:
        self.run(actor, lambda t: t.unassign("lead", lead_id), reason)

    def issue_token(self, actor: str, label: str) -> str:
        token_id = self.world.token_id()
        token_hash = hash_token(new_token())
        self.run(actor, lambda t: t.issue_token(token_id, token_hash, label))
        return token_id

    def invitation_id(self, email: str) -> str:
        return next(i.invitation_id for i in self.tenant.pending_invitations if i.email == email)

    def catch_up(self) -> None:
        """Record whatever became due by now (what the API's sweep does)."""
        self.run(SYSTEM, lambda t: None)

    # ----------------------------------------------------------------- reading the state

    def members(self, role: str | None = None) -> list[str]:
        """Active members (owner excluded) in seat order, optionally of one role."""
        found = sorted(self.tenant.members.values(), key=lambda m: m.seat_order)
        return [m.user_id for m in found if m.seat_order > 0 and (role is None or m.role == role)]

    def assigned_to(self, user_id: str) -> list[str]:
        return [key.split(":", 1)[1] for key, who in self.tenant.assignments.items() if who == user_id]

    def new_lead_ids(self, count: int, prefix: str) -> list[str]:
        ids = [f"{prefix}-{self.lead_counter + i}" for i in range(1, count + 1)]
        self.lead_counter += count
        return ids


class World:
    """The simulated world: one ledger, one manual clock, one seeded random generator."""

    def __init__(self, app: AccessLedger, clock: ManualClock, seed: int = 0) -> None:
        self.app = app
        self.clock = clock
        self.rng = random.Random(seed)
        self.offices: dict[str, Office] = {}
        self._requests = 0

    def request_id(self) -> str:
        self._requests += 1
        return f"req_demo_{self._requests:06d}"

    def token_id(self) -> str:
        return f"tok_{self.rng.getrandbits(64):016x}"

    def at(self, instant: datetime) -> datetime:
        """Move the clock to `instant`, or one second on when it is already there or later (never back)."""
        now = self.clock.now()
        return self.clock.set(instant if instant > now else now + timedelta(seconds=1))

    def later(self, low_minutes: float = 2, high_minutes: float = 12) -> datetime:
        seconds = round(self.rng.uniform(low_minutes, high_minutes) * 60)
        return self.at(self.clock.now() + timedelta(seconds=seconds))

    def open(self, tenant_id: str, name: str, plan: dict[str, Any], owner: dict[str, str], reason: str) -> Office:
        """R-T1 through the application itself; the tenant is then kept in memory."""
        self.app.open_tenant(
            Actor("operator", self.request_id(), reason), tenant_id=tenant_id, name=name, plan=plan, owner=owner
        )
        office = Office(self, tenant_id)
        self.offices[tenant_id] = office
        return office

    def save(self) -> None:
        for office in self.offices.values():
            office.save()
