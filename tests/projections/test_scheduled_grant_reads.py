"""Scheduled grants on the read side (R-G3): `scheduled` status, checks honour [starts_at, expires_at) before and
after `GrantStarted` is recorded, now and as of any instant, and explain names `GrantStarted` once it is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.projections.readside import ReadSide, read_side
from tests.support import TENANT, add_member, open_tenant, owner


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger)
    with read_side(ledger, clock) as side:
        yield side


def _allowed(rs: ReadSide, **kw: object) -> bool:
    return rs.q.check(TENANT, "mia", "billing.view", now=rs.now, **kw)["allowed"]


def test_R_G3_checks_honour_the_window_whether_or_not_GrantStarted_is_recorded(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    granted_at = rs.now
    starts, expires = granted_at + timedelta(hours=2), granted_at + timedelta(hours=5)
    grant_id = rs.ledger.grant(
        TENANT, owner(), user_id="mia", permission="billing.view", scope="all", starts_at=starts, expires_at=expires
    ).values["grant_id"]
    rs.sync()
    [grant] = rs.q.grants(TENANT, now=rs.now)[0]
    assert (grant["status"], grant["starts_at"]) == ("scheduled", starts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [g["grant_id"] for g in rs.q.grants(TENANT, status="scheduled", now=rs.now)[0]] == [grant_id]
    assert rs.q.grants(TENANT, status="active", now=rs.now)[0] == []
    assert not _allowed(rs)
    # Past the start, nothing recorded yet: the window alone allows it.
    rs.at(starts + timedelta(minutes=1))
    assert _allowed(rs)
    assert rs.q.grant(TENANT, grant_id, rs.now)["status"] == "active"
    assert not _allowed(rs, as_of=starts - timedelta(seconds=1))
    # Now recorded: the same answers, and explain names GrantStarted.
    rs.ledger.apply_due(TENANT)
    rs.sync()
    assert _allowed(rs)
    assert not _allowed(rs, as_of=starts - timedelta(seconds=1))
    assert _allowed(rs, as_of=starts)
    explained = rs.q.explain(TENANT, "mia", "billing.view", now=rs.now)
    assert "GrantStarted" in [e["event_type"] for e in explained["events"]]
    rs.at(expires)
    assert not _allowed(rs)
    assert _allowed(rs, as_of=expires - timedelta(seconds=1))


def test_R_G3_a_scheduled_role_grant_survives_a_redefinition_before_its_start(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    rs.ledger.define_role(
        TENANT,
        owner(),
        role_id="viewer",
        name="Viewer",
        includes=[],
        permissions=[{"permission": "leads.view_details", "scope": "all"}],
    )
    starts = rs.now + timedelta(hours=2)
    rs.ledger.grant(
        TENANT,
        owner(),
        user_id="mia",
        role="viewer",
        scope="resource",
        resource={"type": "lead", "id": "L-1"},
        starts_at=starts,
    )
    rs.ledger.redefine_role(
        TENANT,
        owner(),
        role_id="viewer",
        name="Viewer",
        includes=[],
        permissions=[
            {"permission": "leads.view_details", "scope": "all"},
            {"permission": "leads.booster", "scope": "all"},
        ],
    )
    rs.sync()
    lead = ("lead", "L-1")
    assert not rs.q.check(TENANT, "mia", "leads.booster", lead, now=rs.now)["allowed"]
    rs.at(starts)
    assert rs.q.check(TENANT, "mia", "leads.booster", lead, now=rs.now)["allowed"]
    assert not rs.q.check(TENANT, "mia", "leads.booster", lead, as_of=starts - timedelta(seconds=1), now=rs.now)[
        "allowed"
    ]
