"""R-P10 as a property: random commands by random members on random tenants never leave anyone with a
permission, on any resource, that the actor lacked before the command; the owner is never refused.

The oracle is independent of `domain.effect`: it asks `Access.holds` for every member, permission and resource of
a small universe (named leads, a lead nobody ever named, and the resource-less permissions) before and after.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import AccessLedger
from domain.clock import ManualClock
from domain.effective_access import Access
from domain.errors import DomainError
from domain.permissions import CATALOG
from tests.support import START, actor, open_tenant

TENANT = "acme"
USERS = ["olga", "ann", "mo", "bea", "tl", "org", "new1"]
ROLES = ["admin", "manager", "broker", "marketing", "auditor", "teamlead", "organizer"]
LEADS = ["L-1", "L-2", "L-3"]
UNIVERSE = [("lead", lead) for lead in [*LEADS, "L-never-named"]]
CONTAINERS = [{"type": "account", "id": "A"}, {"type": "location", "id": "B"}]
PERMS = list(CATALOG)
SCOPES = ["all", "team", "assigned"]
CUSTOM = {
    "teamlead": [("users.manage", "all"), ("leads.view_details", "team"), ("leads.assign", "team")],
    "organizer": [("settings.manage", "all"), ("permissions.manage", "all"), ("leads.list", "assigned")],
}


def _perm_list(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"permission": p, "scope": s} for p, s in pairs]


users = st.sampled_from(USERS)
targets = st.sampled_from(USERS[1:])
leads = st.sampled_from(LEADS)
where = st.one_of(st.sampled_from(CONTAINERS), st.builds(lambda i: {"type": "lead", "id": i}, leads))
scoped = st.tuples(st.sampled_from(PERMS), st.sampled_from(SCOPES))

commands = st.one_of(
    st.tuples(st.just("change_role"), targets, st.sampled_from(ROLES)),
    st.tuples(st.just("set_manager"), users, st.one_of(st.none(), users)),
    st.tuples(st.just("set_resource_parent"), where, st.one_of(st.none(), st.sampled_from(CONTAINERS))),
    st.tuples(st.just("lift_restriction"), st.integers(0, 5)),
    st.tuples(st.just("restrict"), targets, st.sampled_from(PERMS)),
    st.tuples(st.just("grant"), users, scoped),
    st.tuples(st.just("role_grant"), users, st.sampled_from(["manager", "broker", "teamlead"]), where),
    st.tuples(st.just("revoke_grant"), st.integers(0, 5)),
    st.tuples(st.just("assign"), st.lists(leads, min_size=1, max_size=3, unique=True), users),
    st.tuples(st.just("unassign"), leads),
    st.tuples(st.just("redefine_role"), st.sampled_from(list(CUSTOM)), st.lists(scoped, max_size=4)),
    st.tuples(st.just("add_member"), st.sampled_from(ROLES)),
    st.tuples(st.just("remove_member"), users),
    st.tuples(st.just("revoke_token"), users),
)


def run(ledger: AccessLedger, who: str, command: tuple[Any, ...]) -> None:
    """Send one generated command as `who` through the application service."""
    name, *args = command
    a = actor(who)
    tenant = ledger.load(TENANT)
    if name == "change_role":
        ledger.change_role(TENANT, a, args[0], args[1])
    elif name == "set_manager":
        ledger.set_manager(TENANT, a, args[0], args[1])
    elif name == "set_resource_parent":
        ledger.set_resource_parent(TENANT, a, args[0]["type"], args[0]["id"], args[1])
    elif name == "lift_restriction":
        ids = sorted(tenant.restrictions)
        ledger.lift_restriction(TENANT, a, ids[args[0] % len(ids)] if ids else "restr_0")
    elif name == "restrict":
        ledger.restrict(TENANT, a, user_id=args[0], permission=args[1])
    elif name == "grant":
        permission, scope = args[1]
        ledger.grant(TENANT, a, user_id=args[0], permission=permission, scope=scope)
    elif name == "role_grant":
        ledger.grant(TENANT, a, user_id=args[0], role=args[1], scope="resource", resource=args[2])
    elif name == "revoke_grant":
        ids = sorted(tenant.grants)
        ledger.revoke_grant(TENANT, a, ids[args[0] % len(ids)] if ids else "grant_0")
    elif name == "assign":
        ledger.assign(TENANT, a, resource_type="lead", resource_ids=args[0], user_id=args[1])
    elif name == "unassign":
        ledger.unassign(TENANT, a, "lead", args[0])
    elif name == "redefine_role":
        pairs = CUSTOM[args[0]] + list(args[1])
        ledger.redefine_role(TENANT, a, args[0], name=args[0], includes=[], permissions=_perm_list(pairs))
    elif name == "add_member":
        n = len(tenant.members) + tenant.version
        ledger.add_member(TENANT, a, user_id=f"u{n}", email=f"u{n}@acme.example", name="New", role=args[0])
    elif name == "remove_member":
        ledger.remove_member(TENANT, a, args[0])
    elif name == "revoke_token":
        tokens = sorted(t for t, v in tenant.tokens.items() if v.user_id == args[0])
        ledger.revoke_token(TENANT, a, tokens[0] if tokens else "tok_none")


def abilities(view: Access, user_id: str) -> set[tuple[str, tuple[str, str] | None]]:
    """Everything the member can do in this view: resource-less permissions, and lead permissions per lead."""
    out: set[tuple[str, tuple[str, str] | None]] = set()
    if not view.is_member(user_id):
        return out
    for permission, resource_type in CATALOG.items():
        if resource_type is None:
            if view.holds(user_id, permission, "all"):
                out.add((permission, None))
        else:
            out.update((permission, r) for r in UNIVERSE if view.holds(user_id, permission, "resource", r))
    return out


def actor_held(view: Access, who: str, permission: str, resource: tuple[str, str] | None) -> bool:
    if resource is None:
        return view.holds(who, permission, "all")
    return view.holds(who, permission, "resource", resource)


def build(ledger: AccessLedger) -> None:
    open_tenant(ledger, included_seats=20)
    owner = actor("olga")
    for role_id, pairs in CUSTOM.items():
        ledger.define_role(TENANT, owner, role_id=role_id, name=role_id, includes=[], permissions=_perm_list(pairs))
    for user_id, role in [
        ("ann", "admin"),
        ("mo", "manager"),
        ("bea", "broker"),
        ("tl", "teamlead"),
        ("org", "organizer"),
    ]:
        ledger.add_member(TENANT, owner, user_id=user_id, email=f"{user_id}@acme.example", name=user_id, role=role)
    # Something to lift, to move and to reach: restrictions, assignments, a resource tree and a role grant.
    ledger.restrict(TENANT, owner, user_id="ann", permission="audit.read")
    ledger.restrict(
        TENANT,
        owner,
        user_id="tl",
        permission="leads.view_details",
        scope="resource",
        resource={"type": "lead", "id": "L-2"},
    )
    ledger.restrict(
        TENANT, owner, user_id="mo", permission="leads.assign", scope="resource", resource={"type": "lead", "id": "L-1"}
    )
    ledger.assign(TENANT, owner, resource_type="lead", resource_ids=["L-1"], user_id="bea")
    ledger.assign(TENANT, owner, resource_type="lead", resource_ids=["L-2"], user_id="mo")
    ledger.set_resource_parent(TENANT, owner, "location", "B", {"type": "account", "id": "A"})
    ledger.grant(
        TENANT, owner, user_id="org", role="manager", scope="resource", resource={"type": "account", "id": "A"}
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    setup=st.lists(commands, max_size=8),
    attacks=st.lists(st.tuples(targets, commands), min_size=1, max_size=8),
)
def test_R_P10_no_command_gives_anyone_what_the_actor_lacked(setup: list[Any], attacks: list[Any]) -> None:
    ledger = AccessLedger(clock=ManualClock(START), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        build(ledger)
        for command in setup:  # the owner shapes a random tenant; she is never refused by R-P10
            try:
                run(ledger, "olga", command)
            except DomainError as error:
                assert error.code != "escalation", (command, error.detail)
        for who, command in attacks:
            before = Access(ledger.load(TENANT))
            version = ledger.load(TENANT).version
            try:
                run(ledger, who, command)
            except DomainError as error:
                assert ledger.load(TENANT).version == version  # rejected: nothing recorded (R-X2)
                assert not (who == "olga" and error.code == "escalation"), (command, error.detail)
                continue
            after = Access(ledger.load(TENANT))
            for user_id in after.tenant.members:
                gained = abilities(after, user_id) - abilities(before, user_id)
                for permission, resource in gained:
                    assert actor_held(before, who, permission, resource), (who, command, user_id, permission, resource)
    finally:
        ledger.close()
