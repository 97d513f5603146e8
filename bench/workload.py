"""Tenant histories for the benchmarks, made by the real `Tenant` aggregate's commands.

A history is generated once per run, in memory: the commands run against one `Tenant` object (each with its own
event context and effective instant, one second apart), and their events are mapped to stored events with the
application's own mapper. Each database then receives the same stored events in bulk, plus one snapshot of the
final state, so a large history costs one insert instead of one load-and-save per command. What the benchmarks
measure afterwards (commands, projections, checks, exports) goes through the ordinary code paths.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.application import AccessLedger, hash_token
from domain.tenant.aggregate import Tenant, tenant_uuid
from domain.tenant.metadata import EventContext, acting

STEP = timedelta(seconds=1)
LEAD_POOL = 1000
STABLE_BROKERS = 20
FLEX_BROKERS = 6  # staff who come and go at any one time
MAX_ACTIVE_GRANTS = 20
MATRIX_ROLES = (("admin", 0.02), ("manager", 0.08), ("marketing", 0.10), ("auditor", 0.05))
_mapper_app: AccessLedger | None = None


def mapper() -> Any:
    """The application's mapper (transcodings included), from an in-memory ledger."""
    global _mapper_app
    if _mapper_app is None:
        _mapper_app = AccessLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        # Generated histories keep personal fields in clear (as a first-release store): their keys would live in
        # this in-memory ledger, not in the bench database. bench.compliance measures the sealing itself.
        _mapper_app.mapper.keys = None
    return _mapper_app.mapper


def token_of(tenant_id: str, user_id: str) -> str:
    """The (deterministic, benchmark-only) API token of a generated member."""
    return f"bench.{tenant_id}.{user_id}.token-0123456789abcdef0123456789"


@dataclass
class History:
    """A generated tenant: its stored events, a snapshot of its final state and what the benchmarks ask of it."""

    tenant_id: str
    stored: list[Any]
    snapshot: Any
    roles: dict[str, str]  # user_id -> role, at the end
    assignments: dict[str, str]  # lead id -> user_id, at the end
    first_at: datetime
    last_at: datetime
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    count: int | None = None  # events, when `stored` was left behind (a history loaded by another process)

    @property
    def events(self) -> int:
        return len(self.stored) if self.count is None else self.count

    def metadata(self) -> dict[str, Any]:
        """What the benchmarks ask of a history, without its events (JSON-ready)."""
        return {
            "tenant_id": self.tenant_id,
            "roles": self.roles,
            "assignments": self.assignments,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "seconds": self.seconds,
            "extra": self.extra,
            "count": self.events,
        }

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> History:
        return cls(
            tenant_id=data["tenant_id"],
            stored=[],
            snapshot=None,
            roles=data["roles"],
            assignments=data["assignments"],
            first_at=datetime.fromisoformat(data["first_at"]),
            last_at=datetime.fromisoformat(data["last_at"]),
            seconds=data["seconds"],
            extra=data["extra"],
            count=data["count"],
        )

    @property
    def aggregate_id(self) -> Any:
        return tenant_uuid(self.tenant_id)

    def token(self, user_id: str) -> str:
        return token_of(self.tenant_id, user_id)


class Builder:
    """Runs commands on one in-memory Tenant, each at the next instant, collecting stored events."""

    def __init__(self, tenant_id: str, start: datetime, seats: int) -> None:
        self.tenant_id = tenant_id
        self.at = start
        self.first_at = start
        self.stored: list[Any] = []
        self.mapper = mapper()
        self.started = time.perf_counter()
        owner = {"user_id": "olga", "email": f"olga@{tenant_id}.example", "name": "Olga Owner"}
        with acting(self._context("operator")):
            self.tenant = Tenant.open(
                tenant_id=tenant_id,
                name=f"{tenant_id} Ltd",
                plan={"name": "bench", "included_seats": seats, "billing_interval": "yearly", "currency": "EUR"},
                term_start=start.date(),
                term_end=start.date().replace(year=start.year + 1),
                owner=owner,
                min_admins=1,
                owner_token_id="tok_olga",
                owner_token_hash=hash_token(token_of(tenant_id, "olga")),
            )
        self._collect()

    def _context(self, actor: str) -> EventContext:
        context = EventContext(actor=actor, occurred_at=self.at, request_id=f"req-{len(self.stored)}")
        self.at += STEP
        return context

    def _collect(self) -> None:
        to_stored = self.mapper.to_stored_event
        self.stored.extend(to_stored(event) for event in self.tenant.collect_events())

    def run(self, actor: str, command: Any) -> Any:
        with acting(self._context(actor)):
            result = command(self.tenant)
        self._collect()
        return result

    def add(self, user_id: str, role: str, by: str = "olga") -> None:
        token = token_of(self.tenant_id, user_id)
        self.run(
            by,
            lambda t: t.add_member(
                user_id=user_id,
                email=f"{user_id}@{self.tenant_id}.example",
                name=user_id.title(),
                role=role,
                token_id=f"tok_{user_id}",
                token_hash=hash_token(token),
            ),
        )

    def finish(self, **extra: Any) -> History:
        tenant = self.tenant
        snapshot_class = getattr(type(tenant), "Snapshot", None)
        snapshot = snapshot_class.take(tenant)
        return History(
            tenant_id=self.tenant_id,
            stored=self.stored,
            snapshot=snapshot,
            roles={u: m.role for u, m in tenant.members.items()},
            assignments={k.split(":", 1)[1]: v for k, v in tenant.assignments.items() if k.startswith("lead:")},
            first_at=self.first_at,
            last_at=self.at - STEP,
            seconds=time.perf_counter() - self.started,
            extra=extra,
        )


def matrix_tenant(tenant_id: str, members: int, leads_per_broker: int, start: datetime) -> History:
    """SPEC.md's role matrix: `members` members (owner included) in every built-in role, brokers with leads."""
    b = Builder(tenant_id, start, seats=members + 10)
    others = members - 1
    counts = {role: max(1, round(others * share)) for role, share in MATRIX_ROLES}
    counts["broker"] = others - sum(counts.values())
    n = 0
    for role, count in counts.items():
        for _ in range(count):
            n += 1
            b.add(f"{role}-{n:04d}", role)
    brokers = sorted(u for u, m in b.tenant.members.items() if m.role == "broker")
    for broker in brokers:
        ids = [f"L-{broker[-4:]}-{k}" for k in range(leads_per_broker)]
        b.run("olga", lambda t, ids=ids, broker=broker: t.assign("lead", ids, broker))
    return b.finish(counts=counts)


def churned_history(tenant_id: str, target: int, start: datetime, seed: int = 7) -> History:
    """A team (owner, admin, manager, auditor, brokers) with a lead pool, then ordinary churn until `target`
    events: mostly lead reassignments, resource grants and revocations, and staff turnover (people who join as
    brokers, change role now and then, and leave). The state stays the size of a real team, and no one member's
    own history grows without bound, while the tenant's history does."""
    rng = random.Random(seed)
    b = Builder(tenant_id, start, seats=100)
    b.add("ada", "admin")
    b.add("mia", "manager")
    b.add("aud", "auditor")
    stable = [f"b{k:02d}" for k in range(STABLE_BROKERS)]
    for user_id in stable:
        b.add(user_id, "broker")
    leads = [f"L-{k:04d}" for k in range(LEAD_POOL)]
    per = LEAD_POOL // len(stable)
    for k, user_id in enumerate(stable):
        chunk = leads[k * per : (k + 1) * per]
        b.run("mia", lambda t, chunk=chunk, user_id=user_id: t.assign("lead", chunk, user_id))
    grants: list[str] = []
    staff: list[str] = []  # people who come and go, oldest first
    joined = 0
    while len(b.stored) < target:
        r = rng.random()
        if r < 0.90:
            lead, to = rng.choice(leads), rng.choice(stable)
            b.run("mia", lambda t, lead=lead, to=to: t.assign("lead", [lead], to))
        elif r < 0.94:
            if len(grants) >= MAX_ACTIVE_GRANTS:
                grant_id = grants.pop(0)
                if grant_id in b.tenant.grants:  # a leaver's grants went with them
                    b.run("ada", lambda t, g=grant_id: t.revoke_grant(g))
                continue
            user_id, lead = rng.choice(stable + staff), rng.choice(leads)
            grant_id = b.run(
                "ada",
                lambda t, u=user_id, lead=lead: t.grant(
                    user_id=u,
                    permission="leads.booster",
                    scope="resource",
                    resource={"type": "lead", "id": lead},
                    expires_at=None,
                ),
            )
            grants.append(grant_id)
        elif r < 0.96 and staff:
            user_id = rng.choice(staff)
            role = "marketing" if b.tenant.members[user_id].role == "broker" else "broker"
            b.run("ada", lambda t, u=user_id, role=role: t.change_role(u, role))
        elif len(staff) < FLEX_BROKERS:
            joined += 1
            staff.append(f"s{joined:06d}")
            b.add(staff[-1], "broker", by="ada")
        else:
            b.run("ada", lambda t, u=staff.pop(0): t.remove_member(u))
    return b.finish(stable=stable, staff=list(staff), leads=leads)


def history_start(events: int, now: datetime | None = None) -> datetime:
    """An instant far enough back for `events` one second apart to end a day before now."""
    now = now or datetime.now(UTC)
    start = now - timedelta(seconds=events) - timedelta(days=1)
    return start.replace(microsecond=0)
