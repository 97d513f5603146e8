"""Custom roles (R-P7) on the aggregate: define, redefine, delete, inclusion, cycles, use wherever a role is used,
no escalation (R-P6) and min_admins (R-M4) on redefinition."""

from __future__ import annotations

import pytest

from domain.effective_access import Access
from domain.permissions import BUILTIN_ROLES, role_permissions
from domain.tenant import events as ev
from domain.tenant import structure_events as ae
from tests.domain.access_world import (
    can,
    define,
    definition,
    grant_args,
    redefine,
    res,
    role_grant,
    world,
)
from tests.domain.helpers import OWNER, Sim

VIEWER = (("leads.view_details", "team"), ("billing.view", "all"))


def held(sim: Sim, user_id: str) -> dict[str, str]:
    return Access(sim.tenant).held_scopes(user_id)


# ----------------------------------------------------------------- define


def test_R_P7_define_records_the_role_and_returns_its_id() -> None:
    sim = world()
    role_id = sim.do(
        "ann",
        "define_role",
        role_id="viewer",
        name="Lead viewer",
        includes=["marketing"],
        permissions=[{"permission": "leads.view_details", "scope": "team"}, {"permission": "billing.view"}],
    )
    assert role_id == "viewer"
    [defined] = sim.last
    assert isinstance(defined, ae.RoleDefined)
    assert (defined.role_id, defined.name, defined.includes) == ("viewer", "Lead viewer", ["marketing"])
    # a permission without a scope is given at scope all
    assert defined.permissions == [
        {"permission": "leads.view_details", "scope": "team"},
        {"permission": "billing.view", "scope": "all"},
    ]
    assert defined.actor == "ann"
    role = sim.tenant.custom_roles["viewer"]
    assert (role.name, role.includes, role.permissions) == (
        "Lead viewer",
        ["marketing"],
        [["leads.view_details", "team"], ["billing.view", "all"]],
    )


@pytest.mark.parametrize("role_id", ["ab", "a" * 40, "lead-viewer_2", "0x"])
def test_R_P7_role_ids_take_2_to_40_of_lowercase_digits_dash_underscore(role_id: str) -> None:
    sim = world()
    assert define(sim, role_id, ("billing.view", "all")) == role_id


@pytest.mark.parametrize("role_id", ["a", "a" * 41, "Viewer", "lead viewer", "lead.viewer", "", *sorted(BUILTIN_ROLES)])
def test_R_P7_bad_role_ids_and_builtin_names_are_validation_errors(role_id: str) -> None:
    sim = world()
    sim.expect_rejection(
        "validation_error", OWNER, "define_role", role_id=role_id, **definition(("billing.view", "all"))
    )


@pytest.mark.parametrize(
    "body",
    [
        definition(("leads.delete", "all")),  # unknown permission
        definition(("leads.list", "galaxy")),  # unknown scope
        definition(("leads.list", "resource")),  # a role gives no permission on one named resource
        definition(("billing.view", "team")),  # not resource-typed: scope all only
        definition(("billing.view", "all"), includes=("ghost",)),  # unknown included role
        definition(("billing.view", "all"), name=""),
        definition(("billing.view", "all"), name="x" * 201),
    ],
)
def test_R_P7_bad_definitions_are_validation_errors(body: dict) -> None:
    sim = world()
    sim.expect_rejection("validation_error", OWNER, "define_role", role_id="viewer", **body)


def test_R_P7_a_role_may_be_empty_or_only_include_others() -> None:
    sim = world()
    define(sim, "nothing")
    define(sim, "alias", includes=("broker",))
    assert role_permissions("alias", Access(sim.tenant).roles) == role_permissions("broker")
    assert Access(sim.tenant).role_permissions("nothing") == {}


def test_R_P7_no_role_includes_owner_or_carries_subscription_cancel() -> None:
    sim = world()
    sim.expect_rejection("owner_immutable", OWNER, "define_role", role_id="boss", **definition(includes=("owner",)))
    sim.expect_rejection(
        "not_grantable", OWNER, "define_role", role_id="boss", **definition(("subscription.cancel", "all"))
    )


def test_R_P7_defining_an_existing_custom_role_is_a_conflict() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.expect_rejection("conflict", OWNER, "define_role", role_id="viewer", **definition(("billing.view", "all")))


def test_R_P7_defining_needs_permissions_manage() -> None:
    sim = world()
    error = sim.expect_rejection(
        "forbidden", "mo", "define_role", role_id="viewer", **definition(("leads.list", "all"))
    )
    assert error.fields == {"missing_permission": "permissions.manage"}


# ----------------------------------------------------------------- inclusion and implications


def test_R_P7_a_role_includes_builtin_roles_and_adds_its_own_scoped_permissions() -> None:
    sim = world()
    define(sim, "senior_broker", ("leads.assign", "team"), includes=("broker", "auditor"))
    sim.do(OWNER, "change_role", "bea", "senior_broker")
    assert held(sim, "bea") == {
        **role_permissions("broker"),
        **role_permissions("auditor"),
        "leads.assign": "team",
        "leads.list": "team",  # implied by leads.assign, wider than the broker's assigned (R-P5)
    }


def test_R_P7_a_role_includes_custom_roles_transitively() -> None:
    sim = world()
    define(sim, "base", ("billing.view", "all"))
    define(sim, "middle", ("leads.booster", "assigned"), includes=("base",))
    define(sim, "top", ("audit.read", "all"), includes=("middle",))
    sim.do(OWNER, "change_role", "bea", "top")
    assert held(sim, "bea") == {
        "billing.view": "all",
        "audit.read": "all",
        "leads.booster": "assigned",
        "leads.view_details": "assigned",
        "leads.list": "assigned",
    }


def test_R_P7_the_widest_scope_of_a_permission_wins_across_inclusions() -> None:
    sim = world()
    define(sim, "wide", ("leads.list", "all"), includes=("broker",))
    assert Access(sim.tenant).role_permissions("wide")["leads.list"] == "all"
    assert Access(sim.tenant).role_permissions("wide")["leads.view_details"] == "assigned"


# ----------------------------------------------------------------- cycles


def test_R_P7_a_role_including_itself_is_a_cycle() -> None:
    sim = world()
    sim.expect_rejection("role_cycle", OWNER, "define_role", role_id="selfish", **definition(includes=("selfish",)))
    define(sim, "selfish")
    sim.expect_rejection("role_cycle", OWNER, "redefine_role", "selfish", **definition(includes=("selfish",)))


def test_R_P7_indirect_cycles_are_rejected_and_change_nothing() -> None:
    sim = world()
    define(sim, "ra", ("billing.view", "all"))
    define(sim, "rb", includes=("ra",))
    define(sim, "rc", includes=("rb", "marketing"))
    sim.expect_rejection("role_cycle", OWNER, "redefine_role", "ra", **definition(includes=("rb",)))
    sim.expect_rejection("role_cycle", OWNER, "redefine_role", "ra", **definition(includes=("manager", "rc")))
    assert sim.tenant.custom_roles["ra"].includes == []
    # a diamond is no cycle
    define(sim, "rd", includes=("rb", "rc", "ra"))


# ----------------------------------------------------------------- redefine


def test_R_P7_redefine_records_old_and_new_definition() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.do(
        "ann",
        "redefine_role",
        "viewer",
        name="Viewer",
        includes=["auditor"],
        permissions=[{"permission": "leads.list", "scope": "assigned"}],
    )
    [redefined] = sim.last
    assert isinstance(redefined, ae.RoleRedefined)
    assert redefined.role_id == "viewer"
    assert redefined.old == {
        "name": "Viewer",
        "includes": [],
        "permissions": [
            {"permission": "leads.view_details", "scope": "team"},
            {"permission": "billing.view", "scope": "all"},
        ],
    }
    assert redefined.new == {
        "name": "Viewer",
        "includes": ["auditor"],
        "permissions": [{"permission": "leads.list", "scope": "assigned"}],
    }
    assert sim.tenant.custom_roles["viewer"].permissions == [["leads.list", "assigned"]]


def test_R_P7_a_redefinition_changes_every_holders_permissions_from_then_on() -> None:
    sim = world()
    define(sim, "viewer", ("leads.view_details", "all"))
    define(sim, "viewer_plus", ("audit.read", "all"), includes=("viewer",))
    sim.do(OWNER, "change_role", "bea", "viewer")
    sim.do(OWNER, "change_role", "mia", "viewer_plus")
    sim.add("rob", "marketing")
    grant_id = role_grant(sim, "rob", "viewer", "account:A")
    sim.do(OWNER, "set_resource_parent", "lead", "L-7", res("account:A"))
    invitation = sim.invite("ivy@acme.example", "viewer")
    for user_id in ("bea", "mia"):
        assert can(sim, user_id, "leads.view_details", "lead:L-1")
        assert not can(sim, user_id, "leads.booster", "lead:L-1")
    assert can(sim, "rob", "leads.view_details", "lead:L-7") and not can(sim, "rob", "leads.booster", "lead:L-7")

    redefine(sim, "viewer", ("leads.booster", "all"), ("contacts.create", "all"))

    for user_id in ("bea", "mia"):
        assert can(sim, user_id, "leads.booster", "lead:L-1")
        assert can(sim, user_id, "contacts.create")
    assert can(sim, "mia", "audit.read")
    assert can(sim, "rob", "leads.booster", "lead:L-7")  # the role grant follows the new definition (R-P9)
    assert not can(sim, "rob", "contacts.create")  # a role grant gives only resource-typed permissions
    assert sim.tenant.grants[grant_id].role == "viewer"
    sim.accept(invitation, "ivy")  # a pending invitation gives the definition of the day it is accepted
    assert can(sim, "ivy", "leads.booster", "lead:L-1")

    redefine(sim, "viewer", ("leads.list", "assigned"))
    for user_id in ("bea", "mia", "ivy"):
        assert not can(sim, user_id, "leads.view_details", "lead:L-1")
        assert not can(sim, user_id, "leads.list", "lead:L-1")  # not assigned to them
    assert not can(sim, "rob", "leads.view_details", "lead:L-7")
    assert can(sim, "rob", "leads.list", "lead:L-7")  # on a role grant, every resource-typed permission counts


def test_R_P7_builtin_roles_cannot_be_changed_or_deleted() -> None:
    sim = world()
    for role_id in sorted(BUILTIN_ROLES):
        sim.expect_rejection("validation_error", OWNER, "redefine_role", role_id, **definition(("billing.view", "all")))
        sim.expect_rejection("validation_error", OWNER, "delete_role", role_id)


def test_R_P7_redefining_or_deleting_an_unknown_role_is_not_found() -> None:
    sim = world()
    sim.expect_rejection("not_found", OWNER, "redefine_role", "ghost", **definition(("billing.view", "all")))
    sim.expect_rejection("not_found", OWNER, "delete_role", "ghost")


def test_R_P7_redefinition_and_deletion_need_permissions_manage() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.expect_rejection("forbidden", "mo", "redefine_role", "viewer", **definition(("billing.view", "all")))
    sim.expect_rejection("forbidden", "mo", "delete_role", "viewer")


def test_R_P7_a_redefinition_is_validated_like_a_definition() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.expect_rejection("validation_error", OWNER, "redefine_role", "viewer", **definition(("leads.list", "resource")))
    sim.expect_rejection("validation_error", OWNER, "redefine_role", "viewer", **definition(includes=("ghost",)))
    sim.expect_rejection("owner_immutable", OWNER, "redefine_role", "viewer", **definition(includes=("owner",)))
    sim.expect_rejection(
        "not_grantable", OWNER, "redefine_role", "viewer", **definition(("subscription.cancel", "all"))
    )


# ----------------------------------------------------------------- delete


def test_R_P7_delete_records_and_forgets_the_role_and_the_id_may_be_defined_again() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.do("ann", "delete_role", "viewer")
    [deleted] = sim.last
    assert isinstance(deleted, ae.RoleDeleted) and deleted.role_id == "viewer"
    assert "viewer" not in sim.tenant.custom_roles
    sim.expect_rejection("validation_error", OWNER, "change_role", "bea", "viewer")
    define(sim, "viewer", ("billing.view", "all"))


def test_R_P7_a_role_held_by_a_member_is_in_use_until_they_change_role_or_leave() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.do(OWNER, "change_role", "bea", "viewer")
    sim.add("rob", "viewer")
    sim.expect_rejection("role_in_use", OWNER, "delete_role", "viewer")
    sim.do(OWNER, "change_role", "bea", "broker")
    sim.expect_rejection("role_in_use", OWNER, "delete_role", "viewer")
    sim.do("rob", "remove_member", "rob")
    sim.do(OWNER, "delete_role", "viewer")


def test_R_P7_a_role_of_a_pending_invitation_is_in_use_until_it_is_no_longer_pending() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    invitation = sim.invite("ivy@acme.example", "viewer")
    sim.expect_rejection("role_in_use", OWNER, "delete_role", "viewer")
    sim.do(OWNER, "revoke_invitation", invitation)
    sim.do(OWNER, "delete_role", "viewer")


def test_R_P7_a_role_of_an_active_role_grant_is_in_use_until_it_is_revoked() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    grant_id = role_grant(sim, "bea", "viewer", "account:A")
    sim.expect_rejection("role_in_use", OWNER, "delete_role", "viewer")
    sim.do(OWNER, "revoke_grant", grant_id)
    sim.do(OWNER, "delete_role", "viewer")


def test_R_P7_a_role_included_by_another_custom_role_is_in_use() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    define(sim, "viewer_plus", includes=("viewer",))
    sim.expect_rejection("role_in_use", OWNER, "delete_role", "viewer")
    redefine(sim, "viewer_plus", ("billing.view", "all"))
    sim.do(OWNER, "delete_role", "viewer")


# ----------------------------------------------------------------- usable wherever a role is


def test_R_P7_a_custom_role_works_for_add_member_invitation_role_change_and_role_grant() -> None:
    sim = world()
    define(sim, "viewer", *VIEWER)
    sim.add("rob", "viewer")
    assert sim.tenant.members["rob"].role == "viewer"
    invitation = sim.invite("ivy@acme.example", "viewer")
    sim.accept(invitation, "ivy")
    assert sim.tenant.members["ivy"].role == "viewer"
    sim.do(OWNER, "change_role", "bea", "viewer")
    assert sim.of(ev.MemberRoleChanged)[-1].new_role == "viewer"
    sim.do(OWNER, "change_role", "bea", "broker")  # and back to a built-in role
    grant_id = role_grant(sim, "mia", "viewer", "location:B")
    assert sim.tenant.grants[grant_id].role == "viewer"
    for user_id in ("rob", "ivy"):
        assert held(sim, user_id) == {
            "leads.view_details": "team",
            "leads.list": "team",
            "billing.view": "all",
        }


def test_R_P7_an_unknown_custom_role_is_a_validation_error_everywhere() -> None:
    sim = world()
    sim.expect_rejection(
        "validation_error",
        OWNER,
        "add_member",
        user_id="rob",
        email="rob@acme.example",
        name="Rob",
        role="viewer",
        token_id="t",
        token_hash="h",
    )
    sim.expect_rejection("validation_error", OWNER, "invite", email="i@acme.example", role="viewer", token_hash="h")
    sim.expect_rejection("validation_error", OWNER, "change_role", "bea", "viewer")
    sim.expect_rejection(
        "validation_error", OWNER, "grant", **grant_args(sim, role="viewer", scope="resource", resource=res("lead:L-1"))
    )
