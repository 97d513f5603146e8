"""A seeded random history for projection tests: many tenants living through most event types.

Commands are picked at random and sent as the tenant's owner (or the invitee); rejected ones (seat limits,
escalation, min_admins, …) are part of life and simply skipped. The clock moves forward now and then so
expiries, charges, renewals and add-on ends are recorded as due changes (R-K1).
"""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from typing import Any

from domain.application import AccessLedger
from domain.clock import ManualClock
from domain.errors import DomainError
from domain.permissions import CATALOG, NEVER_GRANTABLE
from tests.support import actor, open_tenant

ROLES = ("marketing", "broker", "manager", "admin", "auditor")
PERMISSIONS = ("leads.list", "leads.view_details", "leads.booster", "contacts.create", "billing.view", "audit.read")
# A small resource tree to move leads around in (R-H2): leads under locations under accounts.
LEADS = tuple(f"L{i}" for i in range(20))
CONTAINERS = (
    ("location", "loc0"),
    ("location", "loc1"),
    ("location", "loc2"),
    ("account", "acc0"),
    ("account", "acc1"),
)


class RandomHistory:
    """Drives `ledger` with random commands; `step()` sends one, `run(n)` sends n."""

    def __init__(self, ledger: AccessLedger, clock: ManualClock, seed: int = 1, tenants: int = 3) -> None:
        self.ledger = ledger
        self.clock = clock
        self.rng = random.Random(seed)
        self.tenants: list[str] = []
        self.counter = 0
        self.invitations: dict[str, list[tuple[str, str]]] = {}  # tenant -> [(invitation_id, token)]
        self.tokens: dict[str, list[tuple[str, str]]] = {}  # tenant -> [(user_id, token_id)]
        for index in range(tenants):
            self.open(f"t{index}-{seed}")

    def open(self, tenant_id: str) -> None:
        opened = open_tenant(self.ledger, tenant_id, included_seats=self.rng.choice((3, 5, 8)))
        self.tenants.append(tenant_id)
        self.invitations[tenant_id] = []
        self.tokens[tenant_id] = [("olga", opened.owner_token_id)]

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def step(self) -> None:
        tenant_id = self.rng.choice(self.tenants)
        action = self.rng.choices(list(self.ACTIONS), weights=list(self.ACTIONS.values()))[0]
        with contextlib.suppress(DomainError):
            getattr(self, action)(tenant_id)

    # The weights keep members coming and going while every other event appears often enough.
    ACTIONS = {  # noqa: RUF012
        "add_member": 6,
        "change_role": 3,
        "remove_member": 2,
        "issue_token": 2,
        "revoke_token": 1,
        "invite": 3,
        "accept": 2,
        "decline": 1,
        "revoke_invitation": 1,
        "resend": 1,
        "purchase_addon": 1,
        "cancel_addon": 1,
        "withdraw_addon": 1,
        "grant": 3,
        "revoke_grant": 1,
        "assign": 3,
        "unassign": 1,
        "policy": 1,
        "advance": 2,
        "define_role": 1,
        "redefine_role": 1,
        "delete_role": 1,
        "role_grant": 2,
        "restrict": 2,
        "lift_restriction": 1,
        "set_manager": 2,
        "set_parent": 2,
        "team_grant": 1,
        "container_grant": 0,  # weighted by the tests that want it (a weight of 0 keeps the others' sequences)
    }

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _members(self, tenant_id: str) -> list[str]:
        return sorted(self.ledger.load(tenant_id).members)

    def _others(self, tenant_id: str) -> list[str]:
        return [m for m in self._members(tenant_id) if m != "olga"]

    def _pick(self, items: list[Any]) -> Any:
        if not items:
            raise DomainError("not_found", "nothing to pick")
        return self.rng.choice(items)

    def owner(self, **kw: Any) -> Any:
        return actor("olga", reason=self.rng.choice((None, "ticket #42", "review ✓")), **kw)

    def add_member(self, tenant_id: str) -> None:
        user = self._next("u")
        self.ledger.add_member(
            tenant_id,
            self.owner(),
            user_id=user,
            email=f"{user}@x.example",
            name=user.title(),
            role=self._role(),
        )

    def _custom(self, tenant_id: str) -> list[str]:
        return sorted(self.ledger.load(tenant_id).custom_roles)

    def _role(self, tenant_id: str | None = None) -> str:
        """A built-in role, now and then a custom one of the tenant (R-P7)."""
        custom = self._custom(tenant_id) if tenant_id is not None else []
        if custom and self.rng.random() < 0.3:
            return self.rng.choice(custom)
        return self.rng.choice(ROLES)

    def change_role(self, tenant_id: str) -> None:
        self.ledger.change_role(tenant_id, self.owner(), self._pick(self._others(tenant_id)), self._role(tenant_id))

    def remove_member(self, tenant_id: str) -> None:
        self.ledger.remove_member(tenant_id, self.owner(), self._pick(self._others(tenant_id)))

    def issue_token(self, tenant_id: str) -> None:
        user = self._pick(self._members(tenant_id))
        result = self.ledger.issue_token(tenant_id, actor(user), label=self.rng.choice((None, "ci")))
        self.tokens[tenant_id].append((user, result.values["token_id"]))

    def revoke_token(self, tenant_id: str) -> None:
        user, token_id = self._pick(self.tokens[tenant_id])
        self.ledger.revoke_token(tenant_id, self.owner(), token_id)

    def invite(self, tenant_id: str) -> None:
        email = self._next("guest") + "@y.example"
        result = self.ledger.invite(tenant_id, self.owner(), email=email, role=self._role(tenant_id))
        self.invitations[tenant_id].append((result.values["invitation_id"], result.values["token"]))

    def accept(self, tenant_id: str) -> None:
        invitation_id, token = self._pick(self.invitations[tenant_id])
        self.ledger.accept_invitation(actor("x"), token=token, user_id=self._next("g"), name="Guest")

    def decline(self, tenant_id: str) -> None:
        invitation_id, token = self._pick(self.invitations[tenant_id])
        self.ledger.decline_invitation(actor("x"), token=token)

    def revoke_invitation(self, tenant_id: str) -> None:
        invitation_id, _ = self._pick(self.invitations[tenant_id])
        self.ledger.revoke_invitation(tenant_id, self.owner(), invitation_id)

    def resend(self, tenant_id: str) -> None:
        pairs = self.invitations[tenant_id]
        index = self.rng.randrange(len(pairs)) if pairs else self._pick(pairs)
        invitation_id, _ = pairs[index]
        result = self.ledger.resend_invitation(tenant_id, self.owner(), invitation_id)
        pairs[index] = (invitation_id, result.values["token"])

    def purchase_addon(self, tenant_id: str) -> None:
        self.ledger.purchase_addon(tenant_id, self.owner(), "user-seats")

    def _addons(self, tenant_id: str) -> list[str]:
        return sorted(a for a, v in self.ledger.load(tenant_id).addons.items() if v.status != "ended")

    def cancel_addon(self, tenant_id: str) -> None:
        self.ledger.cancel_addon(tenant_id, self.owner(), self._pick(self._addons(tenant_id)))

    def withdraw_addon(self, tenant_id: str) -> None:
        self.ledger.withdraw_addon_cancellation(tenant_id, self.owner(), self._pick(self._addons(tenant_id)))

    def grant(self, tenant_id: str) -> None:
        permission = self.rng.choice(PERMISSIONS)
        lead = permission.startswith("leads.")
        scope, resource = "all", None
        if lead and self.rng.random() < 0.6:
            scope = self.rng.choice(("resource", "resource", "team", "assigned"))
            if scope == "resource":
                resource = {"type": "lead", "id": self.rng.choice(LEADS)}
        starts = self._starts()
        begin = starts or self.clock.now()
        expires = begin + timedelta(hours=self.rng.choice((2, 30, 400))) if self.rng.random() < 0.5 else None
        self.ledger.grant(
            tenant_id,
            self.owner(),
            user_id=self._pick(self._others(tenant_id)),
            permission=permission,
            scope=scope,
            resource=resource,
            expires_at=expires,
            starts_at=starts,
        )

    def _starts(self) -> Any:
        """A grant that starts later (R-G3), now and then."""
        if self.rng.random() < 0.25:
            return self.clock.now() + timedelta(hours=self.rng.choice((1, 5, 30)))
        return None

    def revoke_grant(self, tenant_id: str) -> None:
        self.ledger.revoke_grant(tenant_id, self.owner(), self._pick(sorted(self.ledger.load(tenant_id).grants)))

    def assign(self, tenant_id: str) -> None:
        ids = self.rng.sample([f"L{i}" for i in range(20)], self.rng.randint(1, 3))
        self.ledger.assign(
            tenant_id,
            self.owner(),
            resource_type="lead",
            resource_ids=ids,
            user_id=self._pick(self._members(tenant_id)),
        )

    def unassign(self, tenant_id: str) -> None:
        key = self._pick(sorted(self.ledger.load(tenant_id).assignments))
        resource_type, resource_id = key.split(":", 1)
        self.ledger.unassign(tenant_id, self.owner(), resource_type, resource_id)

    # ------------------------------------------------------------------ issue 6: R-P7, R-P8, R-P9, R-H1, R-H2

    def _definition(self, tenant_id: str) -> dict[str, Any]:
        includes = self.rng.sample(list(ROLES) + self._custom(tenant_id), self.rng.choice((0, 0, 1, 2)))
        permissions = []
        for permission in self.rng.sample(sorted(set(CATALOG) - NEVER_GRANTABLE), self.rng.randint(0, 3)):
            scopes = ("all", "team", "assigned") if CATALOG[permission] else ("all",)
            permissions.append({"permission": permission, "scope": self.rng.choice(scopes)})
        return {"name": self._next("Role "), "includes": sorted(set(includes)), "permissions": permissions}

    def define_role(self, tenant_id: str) -> None:
        self.ledger.define_role(tenant_id, self.owner(), role_id=self._next("cr"), **self._definition(tenant_id))

    def redefine_role(self, tenant_id: str) -> None:
        role_id = self._pick(self._custom(tenant_id))
        self.ledger.redefine_role(tenant_id, self.owner(), role_id, **self._definition(tenant_id))

    def delete_role(self, tenant_id: str) -> None:
        self.ledger.delete_role(tenant_id, self.owner(), self._pick(self._custom(tenant_id)))

    def _resource(self) -> dict[str, str]:
        if self.rng.random() < 0.5:
            return {"type": "lead", "id": self.rng.choice(LEADS)}
        resource_type, resource_id = self.rng.choice(CONTAINERS)
        return {"type": resource_type, "id": resource_id}

    def role_grant(self, tenant_id: str) -> None:
        role = self._role(tenant_id) if self.rng.random() < 0.5 else self.rng.choice(("manager", "broker", "admin"))
        starts = self._starts()
        expires = (starts or self.clock.now()) + timedelta(hours=30) if self.rng.random() < 0.3 else None
        self.ledger.grant(
            tenant_id,
            self.owner(),
            user_id=self._pick(self._others(tenant_id)),
            role=role,
            scope="resource",
            resource=self._resource(),
            expires_at=expires,
            starts_at=starts,
        )

    def container_grant(self, tenant_id: str) -> None:
        """A lead permission on a location or an account, covering the leads below it (R-H2), to a member whose
        role holds it narrower (a broker), so the report lists those leads."""
        members = self.ledger.load(tenant_id).members
        brokers = sorted(u for u, m in members.items() if m.role == "broker")
        resource_type, resource_id = self.rng.choice(CONTAINERS)
        self.ledger.grant(
            tenant_id,
            self.owner(),
            user_id=self._pick(brokers),
            permission=self.rng.choice(("leads.view_details", "leads.list", "leads.booster")),
            scope="resource",
            resource={"type": resource_type, "id": resource_id},
            expires_at=None,
            starts_at=self._starts(),
        )

    def team_grant(self, tenant_id: str) -> None:
        """Scope `team` (R-H1) for someone with a report: the grant the random `grant` rarely makes."""
        members = self.ledger.load(tenant_id).members
        managers = sorted({m.reports_to for m in members.values() if m.reports_to})
        self.ledger.grant(
            tenant_id,
            self.owner(),
            user_id=self._pick(managers),
            permission=self.rng.choice(("leads.view_details", "leads.list", "leads.booster")),
            scope="team",
            resource=None,
            expires_at=None,
        )

    def restrict(self, tenant_id: str) -> None:
        permission = self.rng.choice((*PERMISSIONS, "leads.assign", "users.manage", "marketing.materials"))
        scope, resource = "all", None
        if CATALOG[permission] and self.rng.random() < 0.6:
            scope = self.rng.choice(("team", "assigned", "resource"))
            if scope == "resource":
                resource = {"type": "lead", "id": self.rng.choice(LEADS)}
        self.ledger.restrict(
            tenant_id,
            self.owner(),
            user_id=self._pick(self._others(tenant_id)),
            permission=permission,
            scope=scope,
            resource=resource,
        )

    def lift_restriction(self, tenant_id: str) -> None:
        restrictions = sorted(self.ledger.load(tenant_id).restrictions)
        self.ledger.lift_restriction(tenant_id, self.owner(), self._pick(restrictions))

    def set_manager(self, tenant_id: str) -> None:
        user = self._pick(self._others(tenant_id))
        above = self.rng.choice([None, *self._others(tenant_id)])
        self.ledger.set_manager(tenant_id, self.owner(), user, above)

    def set_parent(self, tenant_id: str) -> None:
        child = ("lead", self.rng.choice(LEADS)) if self.rng.random() < 0.6 else self.rng.choice(CONTAINERS)
        parent = None
        if self.rng.random() < 0.85:
            parent_type, parent_id = self.rng.choice(CONTAINERS)
            parent = {"type": parent_type, "id": parent_id}
        self.ledger.set_resource_parent(tenant_id, self.owner(), child[0], child[1], parent)

    def policy(self, tenant_id: str) -> None:
        self.ledger.change_policy(tenant_id, self.owner(), self.rng.choice((1, 1, 2)))

    def advance(self, tenant_id: str) -> None:
        self.clock.set(self.clock.now() + timedelta(hours=self.rng.choice((1, 5, 26, 24 * 9))))
        self.ledger.sweep(list(self.tenants))


def projection_tables(projections: list[Any]) -> list[str]:
    """Every table the given projections write."""
    return [table for projection in projections for table in projection.tables]


def dump_tables(store: Any, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each table's rows in a stable order, to compare two builds row for row."""
    with store.reader() as tx:
        return {table: sorted(tx.all(f"SELECT * FROM {table}"), key=repr) for table in tables}


def tracking(store: Any) -> dict[str, int]:
    """Every projection's tracked position."""
    with store.reader() as tx:
        return {row["name"]: row["position"] for row in tx.all("SELECT name, position FROM projection_tracking")}


def table_names(store: Any) -> set[str]:
    """Every table of the database (current schema on PostgreSQL)."""
    with store.reader() as tx:
        if store.kind == "postgresql":
            found = tx.all("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
        else:
            found = tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in found}


def index_names(store: Any) -> set[str]:
    """Every index of the database (current schema on PostgreSQL)."""
    with store.reader() as tx:
        if store.kind == "postgresql":
            found = tx.all("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()")
        else:
            found = tx.all("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {row["name"] for row in found}
