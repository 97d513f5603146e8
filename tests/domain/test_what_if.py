"""R-R3 what-if and R-R4 assertions on the pure rule: histories folded in memory under a changed catalog."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.assertions import check_assertions, failure_line
from domain.catalog_change import catalog_change
from domain.errors import DomainError
from domain.what_if import fold, what_if
from tests.domain.helpers import T0, Sim, lead

ASSISTANT = {
    "role_id": "assistant",
    "name": "Assistant",
    "includes": ["marketing"],
    "permissions": [{"permission": "leads.view_details", "scope": "all"}],
}
WEAKER = {**ASSISTANT, "permissions": []}


def history() -> Sim:
    """Olga defines `assistant` (marketing + lead details), Anna holds it from T0+1h, Ben from T0+2h, and Ben
    leaves at T0+3h."""
    sim = Sim()
    sim.later(minutes=30)
    sim.do("olga", "define_role", **ASSISTANT)
    sim.later(minutes=30)
    sim.add("anna", "assistant")
    sim.later(hours=1)
    sim.add("ben", "assistant")
    sim.later(hours=1)
    sim.do("olga", "remove_member", "ben")
    return sim


def test_r_r3_weakened_role_lists_each_holder_interval_lost() -> None:
    """R-R3: without lead details in `assistant`, Anna loses them from joining until `to`, Ben only while he was a
    member; each change carries its interval, and nobody gains anything."""
    sim = history()
    end = T0 + timedelta(hours=5)
    changes = what_if(sim.recorded, catalog_change([WEAKER], known={"assistant"}), T0, end)
    lost = {(c["user_id"], c["permission"], c["from"], c["until"]) for c in changes}
    assert all(c["effect"] == "lost" and c["scope"] == "all" for c in changes)
    assert lost == {
        ("anna", "leads.view_details", "2030-01-10T10:00:00Z", "2030-01-10T14:00:00Z"),
        ("ben", "leads.view_details", "2030-01-10T11:00:00Z", "2030-01-10T12:00:00Z"),
    }


def test_r_r3_window_clips_intervals_and_unchanged_catalog_changes_nothing() -> None:
    """R-R3: intervals are clipped to [from, to); the recorded catalog itself yields no change."""
    sim = history()
    start, end = T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=2, minutes=30)
    changes = what_if(sim.recorded, catalog_change([WEAKER], known={"assistant"}), start, end)
    assert {(c["user_id"], c["from"], c["until"]) for c in changes} == {
        ("anna", "2030-01-10T10:30:00Z", "2030-01-10T11:30:00Z"),
        ("ben", "2030-01-10T11:00:00Z", "2030-01-10T11:30:00Z"),
    }
    assert what_if(sim.recorded, catalog_change([ASSISTANT], known={"assistant"}), T0, end) == []


def test_r_r3_removed_role_and_wider_role() -> None:
    """R-R3: a removed role gives its holders nothing (they lose marketing too); a widened one shows gains."""
    sim = history()
    end = T0 + timedelta(hours=5)
    removed = what_if(sim.recorded, catalog_change([], ["assistant"], known={"assistant"}), T0, end)
    anna = {c["permission"] for c in removed if c["user_id"] == "anna"}
    assert {"leads.view_details", "leads.list", "marketing.ai_studio"} <= anna
    assert {c["effect"] for c in removed} == {"lost"}
    wider = {**ASSISTANT, "permissions": [{"permission": "leads.assign", "scope": "all"}, *ASSISTANT["permissions"]]}
    gained = what_if(sim.recorded, catalog_change([wider], known={"assistant"}), T0, end)
    assert {(c["user_id"], c["permission"], c["effect"]) for c in gained} == {
        ("anna", "leads.assign", "gained"),
        ("ben", "leads.assign", "gained"),
    }


def test_r_r3_role_grant_on_a_resource_follows_the_changed_role() -> None:
    """R-R3 with R-P9: a role granted on one lead changes on that lead only."""
    sim = Sim()
    sim.do("olga", "define_role", **ASSISTANT)
    sim.add("carl", "marketing")
    sim.do(
        "olga",
        "grant",
        user_id="carl",
        role="assistant",
        scope="resource",
        resource=lead("L-1"),
        expires_at=None,
    )
    changes = what_if(sim.recorded, catalog_change([WEAKER], known={"assistant"}), T0, T0 + timedelta(hours=1))
    assert [(c["user_id"], c["permission"], c["scope"], c["resource"]) for c in changes] == [
        ("carl", "leads.view_details", "resource", {"type": "lead", "id": "L-1"})
    ]


@pytest.mark.parametrize(
    ("roles", "removed", "loc"),
    [
        ([{**ASSISTANT, "role_id": "admin"}], [], "role_id"),
        ([{**ASSISTANT, "includes": ["nobody"]}], [], "includes"),
        ([{**ASSISTANT, "includes": ["assistant"]}], [], "includes"),
        ([], ["never-defined"], "removed_roles"),
        ([], ["admin"], "removed_roles"),
        ([{**ASSISTANT, "permissions": [{"permission": "subscription.cancel", "scope": "all"}]}], [], "permissions"),
    ],
)
def test_r_r3_bad_catalog_is_a_validation_error(roles, removed, loc) -> None:
    """R-R3: built-in roles stay as they are; unknown or cyclic includes, unknown removals are 422."""
    with pytest.raises(DomainError) as info:
        catalog_change(roles, removed, known={"assistant"})
    assert info.value.code == "validation_error"
    assert loc in str(info.value.fields["errors"][0]["loc"])


def test_r_r3_from_after_to_is_rejected() -> None:
    """R-R3: an empty or backwards window is bad input."""
    with pytest.raises(DomainError):
        what_if([], catalog_change([]), T0, T0)


def _tenant_at(sim: Sim):
    """The folded tenant as of an instant (events with occurred_at ≤ instant)."""

    def at(instant):
        tenant = None
        for event in sim.recorded:
            if event.occurred_at > instant:
                break
            tenant = fold(tenant, event)
        return tenant

    return at


def test_r_r4_assertions_pass_and_fail_with_what_was_found() -> None:
    """R-R4: user, role and count assertions at instants of the history; failures say what was found."""
    sim = history()
    sim.add("mia", "broker")
    sim.assign("mia", "L-1")
    at = sim.now
    assertions = [
        {"user_id": "anna", "permission": "leads.view_details", "expect": "allow"},
        {"user_id": "mia", "permission": "leads.view_details", "resource": lead("L-2"), "expect": "allow"},
        {"user_id": "mia", "permission": "leads.view_details", "resource": lead("L-1"), "expect": "allow"},
        {"role": "assistant", "permission": "leads.view_details", "expect": "deny"},
        {"permission": "users.manage", "at_most": 1},
        {"user_id": "ben", "permission": "leads.list", "at": "2030-01-10T11:30:00Z", "expect": "deny"},
        {"user_id": "ben", "permission": "leads.list", "expect": "deny"},
    ]
    result = check_assertions(assertions, _tenant_at(sim), at)
    assert result["passed"] is False and result["checked"] == 7 and len(result["failed"]) == 3
    failed = {f["assertion"].get("user_id") or f["assertion"].get("role"): f for f in result["failed"]}
    assert failed["mia"]["actual"]["reason"] == "not_assigned"
    assert failed["assistant"]["actual"]["members"] == ["anna"]
    assert failed["ben"]["actual"]["allowed"] is True
    assert failed["ben"]["assertion"] is assertions[5]  # exactly as given
    lines = [failure_line(f) for f in result["failed"]]
    assert lines[0].startswith("FAIL user mia may leads.view_details on lead:L-2 at ")
    assert "expected allow, found denied (not_assigned)" in lines[0]
    assert lines[1].startswith("FAIL no member of role assistant may leads.view_details")
    assert "at 2030-01-10T11:30:00Z: expected deny, found allowed" in lines[2]


def test_r_r4_assertions_against_a_what_if_catalog() -> None:
    """R-R4 with R-R3: the same assertions under a weakened role pass where the real catalog fails."""
    sim = history()
    assertions = [{"role": "assistant", "permission": "leads.view_details", "expect": "deny"}]
    assert check_assertions(assertions, _tenant_at(sim), sim.now)["failed"]
    weaker = catalog_change([WEAKER], known={"assistant"})
    result = check_assertions(assertions, _tenant_at(sim), sim.now, weaker)
    assert result == {"passed": True, "checked": 1, "failed": []}
