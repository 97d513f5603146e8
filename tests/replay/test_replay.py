"""replay/ on both databases: the state at an instant or position, timeline lines, explained checks and diffs (R-R2)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import DomainError
from replay import check, state, timeline
from tests.projections.readside import read_side
from tests.support import START, TENANT, actor, add_member, open_tenant, owner


def test_R_R2_state_at_an_instant_compares_instants_not_texts(ledger, clock):
    """An event at 09:30:00 precedes 09:30:00.1 (as text `…:00Z` sorts after `…:00.100000Z`)."""
    with read_side(ledger, clock) as rs:
        open_tenant(ledger)  # at 09:30:00 exactly
        rs.at(START + timedelta(milliseconds=250))
        add_member(ledger, "bob")
        rs.sync()
        between = START + timedelta(milliseconds=100)
        assert state.sequence_at(rs.store, TENANT, at=between) == 1
        assert state.sequence_at(rs.store, TENANT, at=START + timedelta(milliseconds=250)) == 3
        described = state.state(ledger, rs.store, TENANT, at=between)
        assert [m["user_id"] for m in described["members"]] == ["olga"]
        assert described["sequence"] == 1 and described["position"] == 1
        later = state.state(ledger, rs.store, TENANT, position=3)
        assert [m["user_id"] for m in later["members"]] == ["olga", "bob"] and later["as_of"] is None


def test_R_R2_state_applies_changes_due_by_the_instant_in_memory_only(ledger, clock):
    """R-K1/R-C3: a grant that expired by the instant is gone from the state, though GrantExpired is unrecorded."""
    with read_side(ledger, clock) as rs:
        open_tenant(ledger)
        add_member(ledger, "bob")
        ledger.grant(
            TENANT, owner(), user_id="bob", permission="billing.view", scope="all", expires_at=START + timedelta(days=1)
        )
        rs.sync()
        head = ledger.head_position()
        before = state.state(ledger, rs.store, TENANT, at=START + timedelta(hours=1))
        after = state.state(ledger, rs.store, TENANT, at=START + timedelta(days=2))
        assert [g["user_id"] for g in before["grants"]] == ["bob"]
        assert after["grants"] == []
        assert ledger.head_position() == head, "replay never records anything"
        with pytest.raises(DomainError) as err:
            state.state(ledger, rs.store, TENANT, at=START - timedelta(days=1))
        assert err.value.code == "not_found"
        with pytest.raises(DomainError):
            state.state(ledger, rs.store, "nobody")


def test_R_C2_explained_check_lines_name_decision_reason_vias_and_events(ledger, clock):
    """R-C2: `allowed`/`denied` first, the reason, each via with resources as TYPE:ID, the events' lines."""
    with read_side(ledger, clock) as rs:
        open_tenant(ledger)
        add_member(ledger, "bob")
        ledger.assign(TENANT, actor(), resource_type="lead", resource_ids=["L-17"], user_id="bob")
        rs.later(minutes=5)
        rs.sync()
        answer = rs.q.explain(TENANT, "bob", "leads.view_details", ("lead", "L-17"), now=rs.now)
        lines = check.decision_lines(answer, "bob", "leads.view_details", ("lead", "L-17"))
        assert lines[0] == "allowed"
        assert "  role broker" in lines and "  assignment of lead:L-17" in lines
        assert any("ResourcesAssigned" in line and "lead:L-17 assigned to bob" in line for line in lines)
        denied = rs.q.explain(TENANT, "bob", "leads.view_details", ("lead", "L-18"), now=rs.now)
        lines = check.decision_lines(denied, "bob", "leads.view_details", ("lead", "L-18"))
        assert lines[0] == "denied" and any(line.startswith("  reason      not_assigned") for line in lines)


def test_R_R2_timeline_for_a_user_merges_actor_and_subject_and_diff_names_the_event(ledger, clock):
    """R-R2: the user's timeline holds what they did and what concerned them, once each, in sequence order."""
    with read_side(ledger, clock) as rs:
        open_tenant(ledger)
        add_member(ledger, "bob", role="admin")
        rs.later(hours=1)
        add_member(ledger, "carl", by="bob")
        ledger.remove_member(TENANT, actor("bob", reason="moved on"), "carl")
        rs.later(hours=1)
        rs.sync()
        entries = list(timeline.entries(rs.q, TENANT, user="carl"))
        assert [e["sequence"] for e in entries] == sorted({e["sequence"] for e in entries})
        assert {e["event_type"] for e in entries} == {"MemberAdded", "TokenIssued", "TokenRevoked", "MemberRemoved"}
        lines = [timeline.line(e) for e in entries]
        assert lines[-1].split()[2:5] == ["MemberRemoved", "bob", "carl"]
        assert lines[-1].endswith('carl removed (removed) - "moved on"')
        changes = rs.q.diff(TENANT, START + timedelta(minutes=30), rs.now, now=rs.now)
        carl = [c for c in changes if c["user_id"] == "carl"]
        assert carl == [], "gained and lost inside the window: no difference between its two ends"
        with pytest.raises(DomainError):
            rs.q.diff(TENANT, rs.now, START, now=rs.now)


def test_R_L1_every_event_type_has_a_readable_summary():
    """Each event type of the catalog has its own one-line summary (no key=value fallback)."""
    from projections.audit.projection import event_types

    missing = sorted(t for t in event_types() if t not in timeline.SUMMARIES)
    assert missing == []
