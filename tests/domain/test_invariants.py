"""Random command sequences by random actors keep the tenant's invariants (R-T2, R-P1, R-S1, R-P6, R-M4, R-X2).

A hypothesis state machine drives the aggregate through `Sim` (which already asserts that every rejected command
leaves the aggregate exactly as it was, R-X2) and checks after each step: exactly one owner, the original one;
one built-in role per member, as the model expects; seats used ≤ capacity; every active grant was held by its
grantor when granted, and every role given was held by its giver (no escalation); no command drops the holders of
`users.manage` below the policy; reporting lines always lead up to the owner through active members (R-H1) and
resource parents never form a cycle (R-H2).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.errors import DomainError
from domain.permissions import BUILTIN_ROLES, CATALOG, SCOPES, implied_closure, role_permissions
from domain.tenant import events as ev
from tests.domain.helpers import OWNER, Sim

ROLES = sorted(r for r in BUILTIN_ROLES if r != "owner") + ["owner"]
USERS = [f"u{n}" for n in range(8)]
LEADS = [f"L-{n}" for n in range(5)]
EMAILS = [f"x{n}@acme.example" for n in range(4)]
GRANTABLE = sorted(CATALOG)
MIN_ADMINS = 2
# Leads only ever hang below containers, so a grant on a lead still covers that lead alone, as `held` assumes.
CONTAINERS = ["account:A", "account:B", "location:C", "location:D"]
CHILDREN = CONTAINERS + [f"lead:{i}" for i in LEADS]


def manages(tenant: Any, user_id: str, member_id: str) -> bool:
    """True if `member_id` is `user_id` or below them, walking up the reporting lines (R-H1)."""
    seen: set[str] = set()
    current: str | None = member_id
    while current is not None and current not in seen:
        if current == user_id:
            return True
        seen.add(current)
        member = tenant.members.get(current)
        if member is None or current == tenant.owner_id:
            return False
        current = member.reports_to if member.reports_to in tenant.members else tenant.owner_id
    return False


def held(tenant: Any, user_id: str, permission: str, scope: str, resource: tuple[str, str] | None = None) -> bool:
    """R-P4/R-P6 computed afresh from the aggregate's records, independently of `domain.effective_access`."""
    member = tenant.members.get(user_id)
    if member is None:
        return False
    sources = [(p, s, None) for p, s in role_permissions(member.role).items()]
    for grant in tenant.grants.values():
        if grant.user_id == user_id and grant.permission is not None:
            target = (grant.resource_type, grant.resource_id)
            sources += [(p, grant.scope, target) for p in implied_closure(grant.permission)]
    for permission_held, scope_held, target in sources:
        if permission_held != permission:
            continue
        if scope != "resource":
            if scope_held != "resource" and SCOPES.index(scope_held) >= SCOPES.index(scope):
                return True
        else:
            assignee = tenant.assignments.get(":".join(resource))
            if (
                scope_held == "all"
                or (scope_held == "assigned" and assignee == user_id)
                or (scope_held == "team" and assignee is not None and manages(tenant, user_id, assignee))
                or (scope_held == "resource" and target == resource)
            ):
                return True
    return False


def user_managers(tenant: Any) -> int:
    return sum(1 for user_id in tenant.members if held(tenant, user_id, "users.manage", "all"))


class TenantMachine(RuleBasedStateMachine):
    """One tenant (3 included seats, min_admins 2) under random commands."""

    def __init__(self) -> None:
        super().__init__()
        self.sim = Sim(included_seats=3, min_admins=MIN_ADMINS)
        self.roles: dict[str, str] = {OWNER: "owner"}  # the model's view of who has which role
        self.granted: dict[str, bool] = {}  # grant id → did the grantor hold it when granting
        self.seen = 0
        # Delegated managers from the start, so that escalation attempts are common: a marketing member who
        # manages users and permissions, and a broker who manages permissions and assigns their own leads.
        self.sim.add("mia", "marketing")
        self.sim.add("bea", "broker")
        for user_id, permission, scope in [
            ("mia", "users.manage", "all"),
            ("mia", "permissions.manage", "all"),
            ("bea", "permissions.manage", "all"),
            ("bea", "leads.assign", "assigned"),
        ]:
            self.granted[self.sim.grant(user_id, permission, scope)] = True
        self.follow_recorded()

    # ----------------------------------------------------------------- plumbing

    def actor(self, data: st.DataObject) -> str:
        """The owner half of the time (so that commands get through), else any member or a stranger."""
        if data.draw(st.booleans(), label="by owner"):
            return OWNER
        return data.draw(st.sampled_from(sorted(self.sim.tenant.members) + ["stranger"]), label="actor")

    def target(self, data: st.DataObject) -> str:
        """A member to act on: now and then the owner, mostly someone else."""
        others = sorted(set(self.sim.tenant.members) - {OWNER})
        if not others or data.draw(st.integers(0, 4), label="owner target") == 0:
            return OWNER
        return data.draw(st.sampled_from(others), label="target")

    def run(self, actor: str, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a command; a rejection is fine (Sim checks it changed nothing). Returns (ok, result)."""
        self.sim.due()
        self.follow_recorded()
        managers = user_managers(self.sim.tenant)
        version, recorded = self.sim.tenant.version, len(self.sim.recorded)
        try:
            result = self.sim.do(actor, command, *args, **kwargs)
        except DomainError:
            assert (self.sim.tenant.version, len(self.sim.recorded)) == (version, recorded), "R-X2"
            return False, None
        after = user_managers(self.sim.tenant)
        assert not (after < managers and after < MIN_ADMINS), f"{command} dropped users.manage holders (R-M4)"
        self.follow_recorded()
        return True, result

    def follow_recorded(self) -> None:
        """Keep the model's roles in step with what was recorded (R-S4 evictions included)."""
        for event in self.sim.recorded[self.seen :]:
            if isinstance(event, ev.MemberAdded):
                assert event.user_id not in self.roles
                self.roles[event.user_id] = event.role
            elif isinstance(event, ev.MemberRoleChanged):
                assert self.roles[event.user_id] == event.old_role
                self.roles[event.user_id] = event.new_role
            elif isinstance(event, ev.MemberRemoved):
                del self.roles[event.user_id]
        self.seen = len(self.sim.recorded)

    def may_give(self, actor: str, role: str) -> bool:
        return all(held(self.sim.tenant, actor, p, s) for p, s in role_permissions(role).items())

    # ----------------------------------------------------------------- members and invitations

    @rule(data=st.data(), user=st.sampled_from(USERS), role=st.sampled_from(ROLES))
    def add_member(self, data: st.DataObject, user: str, role: str) -> None:
        actor = self.actor(data)
        self.sim.due()
        allowed = self.may_give(actor, role)
        ok, _ = self.run(
            actor,
            "add_member",
            user_id=user,
            email=f"{user}@acme.example",
            name=user,
            role=role,
            token_id=f"tok_{user}_{len(self.sim.recorded)}",
            token_hash=f"h{len(self.sim.recorded)}",
        )
        assert not ok or (allowed and role != "owner"), "a role was given beyond the giver's own (R-P6)"

    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def change_role(self, data: st.DataObject, role: str) -> None:
        actor = self.actor(data)
        target = self.target(data)
        self.sim.due()
        allowed = self.may_give(actor, role)
        ok, _ = self.run(actor, "change_role", target, role)
        assert not ok or (allowed and role != "owner" and target != OWNER)

    @rule(data=st.data())
    def remove_member(self, data: st.DataObject) -> None:
        actor = self.actor(data)
        target = self.target(data)
        ok, _ = self.run(actor, "remove_member", target)
        assert not ok or target != OWNER

    @rule(data=st.data(), email=st.sampled_from(EMAILS), role=st.sampled_from(ROLES))
    def invite(self, data: st.DataObject, email: str, role: str) -> None:
        actor = self.actor(data)
        self.sim.due()
        allowed = self.may_give(actor, role)
        token_hash = f"inv-{len(self.sim.recorded)}"
        ok, invitation_id = self.run(actor, "invite", email=email, role=role, token_hash=token_hash)
        assert not ok or (allowed and role != "owner")
        if ok:
            self.sim.tokens[invitation_id] = token_hash

    @rule(data=st.data(), user=st.sampled_from(USERS), answer=st.sampled_from(["accept", "decline", "revoke"]))
    def answer_invitation(self, data: st.DataObject, user: str, answer: str) -> None:
        if not self.sim.tokens:
            return
        invitation_id = data.draw(st.sampled_from(sorted(self.sim.tokens)), label="invitation")
        token_hash = self.sim.tokens[invitation_id]
        if answer == "accept":
            self.run(
                user,
                "accept_invitation",
                token_hash=token_hash,
                user_id=user,
                name=user,
                token_id=f"tok_{user}_{len(self.sim.recorded)}",
                member_token_hash=f"m{len(self.sim.recorded)}",
            )
        elif answer == "decline":
            self.run("invitee", "decline_invitation", token_hash)
        else:
            self.run(self.actor(data), "revoke_invitation", invitation_id)

    # ----------------------------------------------------------------- add-ons and time

    @rule(data=st.data())
    def buy_addon(self, data: st.DataObject) -> None:
        live = [a for a in self.sim.tenant.addons.values() if a.status != "ended"]
        if len(live) < 2:  # more would leave seats to spare forever and never exercise R-S1 and R-S4
            self.run(self.actor(data), "purchase_addon", "user-seats")

    @rule(data=st.data(), withdraw=st.booleans())
    def cancel_addon(self, data: st.DataObject, withdraw: bool) -> None:
        if not self.sim.tenant.addons:
            return
        addon_id = data.draw(st.sampled_from(sorted(self.sim.tenant.addons)), label="addon")
        command = "withdraw_addon_cancellation" if withdraw else "cancel_addon"
        self.run(self.actor(data), command, addon_id)

    @rule(days=st.integers(min_value=1, max_value=40))
    def advance_time(self, days: int) -> None:
        self.sim.later(days=days)
        self.follow_recorded()

    # ----------------------------------------------------------------- grants and assignments

    @rule(
        data=st.data(),
        permission=st.sampled_from(GRANTABLE),
        scope=st.sampled_from(SCOPES),
        lead_id=st.sampled_from(LEADS),
        expires=st.booleans(),
    )
    def grant(self, data: st.DataObject, permission: str, scope: str, lead_id: str, expires: bool) -> None:
        actor = self.actor(data)
        target = self.target(data)
        resource = ("lead", lead_id) if scope == "resource" else None
        self.sim.due()
        allowed = held(self.sim.tenant, actor, permission, scope, resource)
        ok, grant_id = self.run(
            actor,
            "grant",
            user_id=target,
            permission=permission,
            scope=scope,
            resource={"type": "lead", "id": lead_id} if resource else None,
            expires_at=self.sim.now + timedelta(days=10) if expires else None,
        )
        if ok:
            assert grant_id not in self.granted
            self.granted[grant_id] = allowed

    @rule(data=st.data())
    def revoke_grant(self, data: st.DataObject) -> None:
        if self.sim.tenant.grants:
            grant_id = data.draw(st.sampled_from(sorted(self.sim.tenant.grants)), label="grant")
            self.run(self.actor(data), "revoke_grant", grant_id)

    @rule(data=st.data(), leads=st.lists(st.sampled_from(LEADS), min_size=1, max_size=3, unique=True))
    def assign(self, data: st.DataObject, leads: list[str]) -> None:
        actor = self.actor(data)
        target = self.target(data)
        self.sim.due()
        allowed = all(held(self.sim.tenant, actor, "leads.assign", "resource", ("lead", i)) for i in leads)
        ok, _ = self.run(actor, "assign", "lead", leads, target)
        assert not ok or allowed

    # ----------------------------------------------------------------- reporting lines and resource trees

    @rule(data=st.data(), to_owner=st.booleans())
    def set_manager(self, data: st.DataObject, to_owner: bool) -> None:
        actor = self.actor(data)
        manager = None if to_owner else self.target(data)
        self.run(actor, "set_manager", self.target(data), manager)

    @rule(data=st.data(), child=st.sampled_from(CHILDREN), parent=st.sampled_from([None, *CONTAINERS]))
    def set_parent(self, data: st.DataObject, child: str, parent: str | None) -> None:
        resource_type, resource_id = child.split(":")
        body = None if parent is None else dict(zip(("type", "id"), parent.split(":"), strict=True))
        self.run(self.actor(data), "set_resource_parent", resource_type, resource_id, body)

    # ----------------------------------------------------------------- invariants

    @invariant()
    def reporting_lines_lead_up_to_the_owner_through_members(self) -> None:
        tenant = self.sim.tenant
        assert tenant.members[OWNER].reports_to is None
        for member in tenant.members.values():
            assert member.reports_to is None or member.reports_to in tenant.members, "a line to a removed member"
            assert manages(tenant, OWNER, member.user_id), f"{member.user_id} is in a cycle (R-H1)"

    @invariant()
    def resource_parents_form_no_cycle(self) -> None:
        parents = self.sim.tenant.parents
        for key in parents:
            seen = {key}
            while (key := parents.get(key)) is not None:
                assert key not in seen, "a resource is its own ancestor (R-H2)"
                seen.add(key)

    @invariant()
    def exactly_one_owner_the_original(self) -> None:
        owners = [m.user_id for m in self.sim.tenant.members.values() if m.role == "owner"]
        assert owners == [OWNER] and self.sim.tenant.owner_id == OWNER

    @invariant()
    def one_known_role_per_member_as_the_model_says(self) -> None:
        self.follow_recorded()
        assert {u: m.role for u, m in self.sim.tenant.members.items()} == self.roles
        assert all(role in BUILTIN_ROLES for role in self.roles.values())

    @invariant()
    def seats_used_within_capacity(self) -> None:
        tenant = self.sim.tenant
        pending = sum(1 for i in tenant.invitations.values() if i.status == "pending")
        capacity = 3 + sum(a.seats for a in tenant.addons.values() if a.status != "ended")
        assert tenant.used == len(tenant.members) - 1 + pending <= capacity == tenant.capacity

    @invariant()
    def every_active_grant_was_held_by_its_grantor(self) -> None:
        for grant_id in self.sim.tenant.grants:
            assert self.granted.get(grant_id) is True, f"{grant_id} exceeds what its grantor held (R-P6)"

    @invariant()
    def assignments_name_members(self) -> None:
        assert set(self.sim.tenant.assignments.values()) <= set(self.sim.tenant.members)


TenantMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_R_X2_random_commands_keep_the_invariants = TenantMachine.TestCase
