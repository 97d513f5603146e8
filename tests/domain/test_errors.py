"""Bad input (R-X2): every error code the domain raises, with nothing recorded, and the check order of R-T2."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from domain.clock import ManualClock
from domain.errors import STATUS, DomainError
from tests.domain.helpers import OWNER, Sim, lead, utc

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
# Raised outside the aggregate: by the application on opening a tenant (test_storage.py) and by the clock (below).
NOT_AGGREGATE_CODES = {"tenant_exists", "clock_backwards"}


def world(**kwargs: object) -> Sim:
    """Owner olga, admin ann, manager mo, broker bea (with lead L-1), marketing mia; 5 seats, 5 used."""
    sim = Sim(**kwargs)
    sim.add("ann", "admin")
    sim.add("mo", "manager")
    sim.add("bea", "broker")
    sim.add("mia", "marketing")
    sim.assign("bea", "L-1")
    return sim


def member_args(**overrides: object) -> dict[str, object]:
    return {
        "user_id": "new",
        "email": "new@acme.example",
        "name": "New",
        "role": "broker",
        "token_id": "t",
        "token_hash": "h",
        **overrides,
    }


def grant_args(sim: Sim, **overrides: object) -> dict[str, object]:
    return {
        "user_id": "bea",
        "permission": "billing.view",
        "scope": "all",
        "resource": None,
        "expires_at": None,
        **overrides,
    }


def closed() -> Sim:
    sim = world()
    sim.do(OWNER, "cancel_subscription")
    sim.at(utc(2030, 2, 1))
    return sim


def ended_addon() -> tuple[Sim, str]:
    sim = world()
    addon_id = sim.buy_addon()
    sim.do(OWNER, "cancel_addon", addon_id)
    sim.at(utc(2030, 2, 1))
    return sim, addon_id


def used_invitation() -> tuple[Sim, str]:
    sim = world()
    sim.do(OWNER, "remove_member", "mia")
    invitation_id = sim.invite("x@acme.example", "broker")
    sim.do("invitee", "decline_invitation", sim.tokens[invitation_id])
    return sim, invitation_id


def role_args(**overrides: object) -> dict[str, object]:
    return {
        "name": "Role",
        "includes": [],
        "permissions": [{"permission": "billing.view", "scope": "all"}],
        **overrides,
    }


def with_roles(*definitions: tuple[str, list[str]]) -> Sim:
    """world() with custom roles, each (role_id, includes)."""
    sim = world()
    for role_id, includes in definitions:
        sim.do(OWNER, "define_role", role_id=role_id, **role_args(includes=includes))
    return sim


def full() -> Sim:
    sim = world()
    sim.add("max", "marketing")
    return sim


CASES: dict[str, Callable[[], tuple[Sim, str, str, tuple, dict]]] = {
    "tenant_closed": lambda: (closed(), OWNER, "change_role", ("bea", "manager"), {}),
    "forbidden": lambda: (world(), "mo", "add_member", (), member_args()),
    "escalation": lambda: (
        (s := world(), s.grant("mia", "users.manage"))[0],
        "mia",
        "change_role",
        ("bea", "manager"),
        {},
    ),
    "not_found": lambda: (world(), "ann", "remove_member", ("ghost",), {}),
    "owner_immutable": lambda: (world(), "ann", "remove_member", (OWNER,), {}),
    "min_admins": lambda: (world(min_admins=2), OWNER, "change_role", ("ann", "manager"), {}),
    # R-L6: an active member cannot be erased.
    "still_active": lambda: (
        world(),
        OWNER,
        "erase_person",
        (),
        {"user_ids": ["bea"], "invitation_ids": [], "user_id": "bea", "fields": ["email", "name", "reason"]},
    ),
    "seat_limit_reached": lambda: (full(), OWNER, "add_member", (), member_args()),
    "already_member": lambda: (world(), OWNER, "add_member", (), member_args(user_id="bea")),
    "invitation_pending": lambda: (
        (s := world(), s.do(OWNER, "remove_member", "mia"), s.invite("x@acme.example", "broker"))[0],
        OWNER,
        "add_member",
        (),
        member_args(email="x@acme.example"),
    ),
    "invitation_not_pending": lambda: (
        (pair := used_invitation())[0],
        OWNER,
        "revoke_invitation",
        (pair[1],),
        {},
    ),
    "unauthenticated": lambda: (world(), "invitee", "decline_invitation", ("no-such-token",), {}),
    "assignee_cannot_access": lambda: (world(), "mo", "assign", ("lead", ["L-2"], "mia"), {}),
    "not_grantable": lambda: (
        (s := world()),
        OWNER,
        "grant",
        (),
        grant_args(s, user_id="ann", permission="subscription.cancel"),
    ),
    "addon_not_active": lambda: ((pair := ended_addon())[0], OWNER, "cancel_addon", (pair[1],), {}),
    "cancellation_not_scheduled": lambda: (world(), OWNER, "withdraw_cancellation", (), {}),
    "cancellation_already_scheduled": lambda: (
        (s := world(), s.do(OWNER, "cancel_subscription"))[0],
        OWNER,
        "cancel_subscription",
        (),
        {},
    ),
    "validation_error": lambda: ((s := world()), OWNER, "grant", (), grant_args(s, scope="galaxy")),
    "conflict": lambda: (with_roles(("viewer", [])), OWNER, "define_role", (), role_args(role_id="viewer")),
    "role_cycle": lambda: (
        with_roles(("base", []), ("top", ["base"])),
        OWNER,
        "redefine_role",
        ("base",),
        role_args(includes=["top"]),
    ),
    "role_in_use": lambda: (
        (s := with_roles(("viewer", [])), s.do(OWNER, "change_role", "mia", "viewer"))[0],
        "ann",
        "delete_role",
        ("viewer",),
        {},
    ),
    "hierarchy_cycle": lambda: (
        (s := world(), s.do(OWNER, "set_manager", "bea", "mo"))[0],
        "ann",
        "set_manager",
        ("mo", "bea"),
        {},
    ),
}


def raised_codes() -> set[str]:
    """Every error code the domain's source raises (`DomainError("code"`, `not_found(`, `validation(`)."""
    codes: set[str] = set()
    for path in DOMAIN.rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'DomainError\(\s*"([a-z_]+)"', text))
        if re.search(r"\bnot_found\(", text):
            codes.add("not_found")
        if re.search(r"\bvalidation\(", text):
            codes.add("validation_error")
    return codes


def test_R_X2_every_code_the_domain_raises_has_a_case_here() -> None:
    codes = raised_codes()
    assert codes <= set(STATUS)
    assert codes - NOT_AGGREGATE_CODES <= set(CASES), codes - set(CASES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_R_X2_a_rejected_command_raises_its_code_and_records_nothing(code: str) -> None:
    sim, actor, command, args, kwargs = CASES[code]()
    recorded = len(sim.recorded)
    error = sim.expect_rejection(
        code, actor, command, *args, **kwargs
    )  # asserts version, pending events, state unchanged
    assert error.status == STATUS[code]
    assert len(sim.recorded) == recorded


def test_R_X2_forbidden_names_the_missing_permission() -> None:
    sim = world()
    assert sim.expect_rejection("forbidden", "bea", "purchase_addon", "user-seats").fields == {
        "missing_permission": "addons.purchase"
    }


def test_R_X2_a_rejection_after_due_changes_keeps_them_but_adds_nothing_of_its_own() -> None:
    sim = world()
    sim.now += timedelta(days=40)  # a renewal is due; the rejected command must not record its own events
    sim.expect_rejection("forbidden", "mia", "invite", email="y@acme.example", role="broker", token_hash="h")
    assert type(sim.recorded[-1]).__name__ == "TermRenewed"


def test_R_K2_the_manual_clock_never_goes_back() -> None:
    clock = ManualClock(utc(2030, 1, 1))
    clock.set(utc(2030, 1, 2))
    with pytest.raises(DomainError) as info:
        clock.set(utc(2030, 1, 1, 23))
    assert info.value.code == "clock_backwards" and info.value.status == 409
    assert clock.now() == utc(2030, 1, 2)


def test_R_X2_unknown_error_codes_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        DomainError("oops", "not a code")


# ----------------------------------------------------------------- R-T2 check order


def test_R_T2_forbidden_comes_before_owner_immutable() -> None:
    sim = world()
    sim.expect_rejection("forbidden", "mia", "change_role", OWNER, "admin")
    sim.expect_rejection("forbidden", "mia", "remove_member", OWNER)


def test_R_T2_owner_immutable_comes_before_escalation() -> None:
    sim = world()
    sim.grant("mia", "users.manage")
    sim.expect_rejection("owner_immutable", "mia", "change_role", OWNER, "admin")
    sim.expect_rejection("owner_immutable", "mia", "change_role", "bea", "owner")
    sim.expect_rejection("owner_immutable", "mia", "remove_member", OWNER)
    sim.expect_rejection("owner_immutable", "mia", "invite", email="y@acme.example", role="owner", token_hash="h")


def test_R_T2_escalation_comes_before_min_admins() -> None:
    sim = world(min_admins=3)
    sim.grant("mia", "users.manage")  # owner, ann and mia hold users.manage: exactly the policy
    sim.expect_rejection("escalation", "mia", "change_role", "ann", "manager")
    sim.expect_rejection("min_admins", "mia", "change_role", "ann", "marketing")


def test_R_T2_tenant_closed_comes_first() -> None:
    sim = closed()
    sim.expect_rejection("tenant_closed", "mia", "change_role", OWNER, "owner")
    sim.expect_rejection("tenant_closed", "mia", "add_member", **member_args(role="owner"))


def test_R_X2_R_H2_a_resource_grant_needs_a_permission_on_resources_and_may_name_a_container() -> None:
    sim = world()
    sim.expect_rejection(
        "validation_error",
        OWNER,
        "grant",
        **grant_args(sim, permission="billing.view", scope="resource", resource={"type": "account", "id": "A"}),
    )
    sim.grant("mia", "leads.view_details", "resource", lead("L-9"))
    # A lead permission on a location covers the leads below it (R-H2), as a role grant there does (R-P9).
    sim.grant("mia", "leads.list", "resource", {"type": "location", "id": "B"})


def test_R_T2_owner_immutable_comes_before_escalation_for_restrictions() -> None:
    sim = world()
    sim.grant("mia", "permissions.manage")
    sim.expect_rejection("owner_immutable", "mia", "restrict", user_id=OWNER, permission="leads.view_details")
    sim.expect_rejection("escalation", "mia", "restrict", user_id="ann", permission="leads.view_details")


def test_R_T2_escalation_comes_before_min_admins_for_redefinitions() -> None:
    sim = world(min_admins=3)
    sim.do(OWNER, "define_role", role_id="people", **role_args(permissions=[{"permission": "users.manage"}]))
    sim.do(OWNER, "change_role", "mia", "people")
    sim.grant("bea", "permissions.manage")
    sim.expect_rejection("escalation", "bea", "redefine_role", "people", **role_args())
    sim.expect_rejection("min_admins", OWNER, "redefine_role", "people", **role_args())
