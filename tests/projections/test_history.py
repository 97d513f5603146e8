"""The permission history and checks now and as of any instant (R-C1…R-C3), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from domain.errors import DomainError
from domain.permissions import CATALOG
from tests.projections.readside import ReadSide, read_side
from tests.support import START, TENANT, add_member, open_tenant, owner

LEAD = ("lead", "L-1")


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger)
    with read_side(ledger, clock) as side:
        yield side


def history(rs: ReadSide, user_id: str, permission: str | None = None) -> list[dict]:
    sql = "SELECT * FROM permission_history WHERE tenant_id = ? AND user_id = ?"
    params: tuple = (TENANT, user_id)
    if permission:
        sql += " AND permission = ?"
        params += (permission,)
    return rs.rows(sql + " ORDER BY from_position, permission", params)


def check(rs: ReadSide, user_id: str, permission: str, resource=None, as_of=None) -> dict:
    return rs.q.check(TENANT, user_id, permission, resource, as_of=as_of, now=rs.now)


def test_R_C3_a_role_change_closes_the_old_roles_rows_and_opens_the_new_ones(rs: ReadSide) -> None:
    added = add_member(rs.ledger, "bob", "broker")
    t1 = rs.now
    t2 = rs.later(hours=2)
    changed = rs.ledger.change_role(TENANT, owner(), "bob", "manager")
    rs.sync()

    rows = history(rs, "bob", "leads.view_details")
    assert [(r["source_id"], r["scope"], r["from_event"], r["to_event"]) for r in rows] == [
        ("broker", "assigned", "MemberAdded", "MemberRoleChanged"),
        ("manager", "all", "MemberRoleChanged", None),
    ]
    assert rows[0]["from_position"] == added.position - 1  # MemberAdded comes before its TokenIssued
    assert rows[0]["to_position"] == changed.position == rows[1]["from_position"]
    assert rows[0]["valid_to"] == rows[1]["valid_from"]

    before = check(rs, "bob", "leads.view_details", LEAD, as_of=t1)
    assert (before["allowed"], before["reason"], before["as_of"]) == (False, "not_assigned", "2026-11-16T09:30:00Z")
    after = check(rs, "bob", "leads.view_details", LEAD, as_of=t2)
    assert (after["allowed"], after["scope"], after["via"]) == (True, "all", [{"kind": "role", "role": "manager"}])
    assert check(rs, "bob", "leads.view_details", LEAD)["via"] == [{"kind": "role", "role": "manager"}]
    # A permission only the new role gives did not exist before the change.
    assert check(rs, "bob", "leads.assign", as_of=t1)["reason"] == "not_permitted"
    assert check(rs, "bob", "leads.assign", as_of=t2)["allowed"] is True


def test_R_M3_removal_closes_every_row_and_the_past_still_answers(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "marketing")
    rs.later(minutes=5)
    rs.ledger.grant(TENANT, owner(), user_id="bob", permission="leads.view_details", scope="all")
    t1 = rs.later(minutes=5)
    rs.later(hours=1)
    removed = rs.ledger.remove_member(TENANT, owner(), "bob")
    rs.sync()

    rows = history(rs, "bob")
    assert rows and all(r["valid_to"] is not None for r in rows)
    assert {r["to_event"] for r in rows if r["source_kind"] == "role"} == {"MemberRemoved"}
    assert {r["to_event"] for r in rows if r["source_kind"] == "grant"} == {"PermissionRevoked"}
    assert max(r["to_position"] for r in rows) == removed.position

    now = check(rs, "bob", "leads.view_details", LEAD)
    assert (now["allowed"], now["reason"], now["via"]) == (False, "not_a_member", [])
    then = check(rs, "bob", "leads.view_details", LEAD, as_of=t1)
    assert then["allowed"] is True
    assert then["via"] == [{"kind": "grant", "grant_id": "grant_4"}]


def test_R_G2_a_grant_is_denied_from_its_expiry_even_before_GrantExpired_is_recorded(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    expires = START + timedelta(hours=1)
    granted = rs.ledger.grant(
        TENANT, owner(), user_id="mia", permission="leads.booster", scope="all", expires_at=expires
    )
    rs.sync()
    grant_id = granted.values["grant_id"]
    assert check(rs, "mia", "leads.booster", LEAD)["via"] == [{"kind": "grant", "grant_id": grant_id}]
    # Implications (R-P5): the grant gives view_details and list too; list also comes from the role.
    assert check(rs, "mia", "leads.list", LEAD)["via"] == [
        {"kind": "role", "role": "marketing"},
        {"kind": "grant", "grant_id": grant_id},
    ]

    rs.at(expires)  # nothing recorded: the sweep has not run
    assert rs.ledger.head_position() == rs.sync()
    assert history(rs, "mia", "leads.booster")[0]["valid_to"] is None
    denied = check(rs, "mia", "leads.booster", LEAD)
    assert (denied["allowed"], denied["reason"]) == (False, "not_permitted")
    assert check(rs, "mia", "leads.list", LEAD)["via"] == [{"kind": "role", "role": "marketing"}]
    assert check(rs, "mia", "leads.booster", LEAD, as_of=expires - timedelta(seconds=1))["allowed"] is True
    assert rs.q.grant(TENANT, grant_id, now=rs.now)["status"] == "expired"

    rs.later(minutes=1)
    rs.ledger.apply_due(TENANT)
    rs.sync()
    row = history(rs, "mia", "leads.booster")[0]
    assert (row["valid_to"], row["to_event"]) == ("2026-11-16T10:30:00.000000Z", "GrantExpired")
    assert check(rs, "mia", "leads.booster", LEAD)["reason"] == "not_permitted"
    assert check(rs, "mia", "leads.booster", LEAD, as_of=expires - timedelta(seconds=1))["allowed"] is True


def test_R_T5_a_closing_tenant_is_closed_from_its_instant_even_before_SubscriptionEnded(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "admin")
    rs.ledger.cancel_subscription(TENANT, owner())
    rs.sync()
    assert check(rs, "olga", "users.manage")["allowed"] is True
    assert rs.q.tenant_status(TENANT, rs.now) == "cancellation_scheduled"

    closes = rs.at(START.replace(month=12, day=16, hour=0, minute=30))
    rs.sync()
    for user in ("olga", "bob"):
        closed = check(rs, user, "users.manage")
        assert (closed["allowed"], closed["reason"], closed["via"]) == (False, "tenant_closed", [])
    assert rs.q.tenant_status(TENANT, rs.now) == "closed"
    assert rs.q.tenant(TENANT, rs.now)["status"] == "closed"
    assert check(rs, "olga", "users.manage", as_of=closes - timedelta(hours=1))["allowed"] is True

    rs.ledger.apply_due(TENANT)
    rs.sync()
    assert "SubscriptionEnded" in [r["event_type"] for r in rs.q.audit(TENANT, limit=1000)[0]]
    assert check(rs, "olga", "users.manage")["reason"] == "tenant_closed"
    assert check(rs, "olga", "users.manage", as_of=START)["allowed"] is True
    # Nobody is removed: the members' rows stay as they were when it closed.
    assert history(rs, "bob", "users.manage")[0]["valid_to"] is None


def test_R_C1_scope_assigned_follows_the_assignment_intervals(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    add_member(rs.ledger, "carl", "broker")
    t1 = rs.later(minutes=1)
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1", "L-2"], user_id="bob")
    t2 = rs.later(minutes=1)
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="carl")
    t3 = rs.later(minutes=1)
    rs.ledger.unassign(TENANT, owner(), "lead", "L-1")
    rs.sync()

    def allowed(user: str, as_of) -> tuple:
        d = check(rs, user, "leads.view_details", LEAD, as_of=as_of)
        return d["allowed"], d["reason"]

    assert allowed("bob", t1) == (True, None)
    assert check(rs, "bob", "leads.view_details", LEAD, as_of=t1)["via"] == [
        {"kind": "role", "role": "broker"},
        {"kind": "assignment", "resource": {"type": "lead", "id": "L-1"}},
    ]
    assert allowed("carl", t1) == (False, "not_assigned")
    assert allowed("bob", t2) == (False, "not_assigned")
    assert allowed("carl", t2) == (True, None)
    assert allowed("carl", t3) == (False, "not_assigned")
    assert allowed("carl", None) == (False, "not_assigned")
    assert check(rs, "bob", "leads.view_details", ("lead", "L-2"))["allowed"] is True
    assert allowed("bob", t1 - timedelta(seconds=1)) == (False, "not_assigned")


def test_R_C1_without_a_resource_any_scope_counts_and_the_widest_is_answered(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    rs.sync()
    d = check(rs, "bob", "leads.view_details")
    assert (d["allowed"], d["scope"], d["via"]) == (True, "assigned", [{"kind": "role", "role": "broker"}])
    rs.ledger.grant(TENANT, owner(), user_id="bob", permission="leads.view_details", scope="all")
    rs.sync()
    d = check(rs, "bob", "leads.view_details")
    assert (d["scope"], [v["kind"] for v in d["via"]]) == ("all", ["role", "grant"])
    assert check(rs, "bob", "settings.manage")["reason"] == "not_permitted"


def test_R_C2_a_resource_grant_covers_that_resource_only(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    granted = rs.ledger.grant(
        TENANT,
        owner(),
        user_id="mia",
        permission="leads.view_details",
        scope="resource",
        resource={"type": "lead", "id": "L-9"},
    )
    rs.sync()
    on_it = check(rs, "mia", "leads.view_details", ("lead", "L-9"))
    assert (on_it["allowed"], on_it["scope"]) == (True, "resource")
    assert on_it["via"] == [{"kind": "grant", "grant_id": granted.values["grant_id"]}]
    assert check(rs, "mia", "leads.view_details", LEAD)["reason"] == "not_permitted"
    assert check(rs, "mia", "leads.view_details")["scope"] == "resource"


def test_R_C1_unknown_users_permissions_tenants_and_future_instants(rs: ReadSide) -> None:
    rs.sync()
    assert check(rs, "nobody", "leads.list")["reason"] == "not_a_member"
    assert check(rs, "nobody", "leads.list", as_of=START)["reason"] == "not_a_member"
    with pytest.raises(DomainError) as error:
        check(rs, "olga", "leads.fly")
    assert error.value.code == "validation_error"
    with pytest.raises(DomainError) as error:
        check(rs, "olga", "leads.list", as_of=rs.now + timedelta(seconds=1))
    assert error.value.code == "validation_error"
    with pytest.raises(DomainError) as error:
        rs.q.check("nope", "olga", "leads.list", now=rs.now)
    assert error.value.code == "not_found"
    with pytest.raises(DomainError) as error:
        rs.q.check("nope", "olga", "leads.list", as_of=START, now=rs.now)
    assert error.value.code == "not_found"
    with pytest.raises(DomainError) as error:
        check(rs, "olga", "leads.list", resource=("lead",))
    assert error.value.code == "validation_error"


def test_R_C1_a_current_check_sees_each_new_position(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "marketing")
    rs.sync()
    first = check(rs, "bob", "leads.view_details")
    assert first["reason"] == "not_permitted"
    changed = rs.ledger.change_role(TENANT, owner(), "bob", "manager")
    rs.sync()
    second = check(rs, "bob", "leads.view_details")
    assert second["allowed"] is True
    assert second["position"] == changed.position > first["position"]


def test_R_C3_checks_from_memory_equal_checks_from_sql_at_every_instant(rs: ReadSide, monkeypatch) -> None:
    """The cache's interval search, the SQL interval queries and a check now all decide alike."""
    add_member(rs.ledger, "bob", "broker")
    add_member(rs.ledger, "mia", "marketing")
    add_member(rs.ledger, "ann", "auditor")
    moments = [rs.now]
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="bob")
    moments.append(rs.later(minutes=10))
    rs.ledger.grant(
        TENANT,
        owner(),
        user_id="mia",
        permission="leads.booster",
        scope="resource",
        resource={"type": "lead", "id": "L-2"},
        expires_at=rs.now + timedelta(hours=1),
    )
    rs.ledger.grant(TENANT, owner(), user_id="bob", permission="leads.view_details", scope="all")
    moments.append(rs.later(minutes=10))
    rs.ledger.change_role(TENANT, owner(), "bob", "marketing")
    rs.ledger.remove_member(TENANT, owner(), "ann")
    moments.append(rs.later(minutes=10))
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="olga")
    moments += [rs.later(hours=2)]
    rs.sync()
    cases = [
        (user, permission, resource)
        for user in ("olga", "bob", "mia", "ann", "zed")
        for permission in CATALOG
        for resource in (None, ("lead", "L-1"), ("lead", "L-2"), ("lead", "L-3"))
    ]
    from projections.queries.access import access_position, check_at, tenant_row

    with rs.store.reader() as tx:
        tenant = tenant_row(tx, TENANT)
        position = access_position(tx)
        sql = {(m, case): check_at(tx, tenant, *case, m, None, position) for m in moments for case in cases}
    memory = {(m, case): rs.q.check(TENANT, *case, as_of=m, now=rs.now) for m in moments for case in cases}
    assert {k: {**v, "as_of": None} for k, v in memory.items()} == sql
    assert sum(d["allowed"] for d in sql.values()) > 100
    assert {d["reason"] for d in sql.values()} == {None, "not_a_member", "not_permitted", "not_assigned"}
    for case in cases:
        assert rs.q.check(TENANT, *case, now=rs.now) == sql[(moments[-1], case)]
    monkeypatch.setattr("projections.queries.access_cache.MAX_MEMBER_ROWS", 1)  # members answered from SQL
    rs.q.cache.clear()
    for m in moments:
        for case in cases[::7]:
            assert {**rs.q.check(TENANT, *case, as_of=m, now=rs.now), "as_of": None} == sql[(m, case)]


def test_R_X4_rows_are_the_same_whatever_the_batches(rs: ReadSide) -> None:
    """A batch keeps its new rows in memory (closing them there) and inserts them at the end: projecting one event
    at a time and the whole history at once give the same rows, `open_since` included."""
    from projections.directory.projection import DirectoryProjection
    from projections.history.projection import HistoryProjection

    steps = [
        lambda: add_member(rs.ledger, "bob", "broker"),
        lambda: add_member(rs.ledger, "mia", "marketing"),
        lambda: rs.ledger.grant(TENANT, owner(), user_id="mia", permission="leads.booster", scope="all"),
        lambda: rs.ledger.grant(
            TENANT,
            owner(),
            user_id="mia",
            permission="leads.view_details",
            scope="all",
            expires_at=rs.now + timedelta(minutes=30),
        ),
        lambda: rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1", "L-2"], user_id="bob"),
        lambda: rs.ledger.change_role(TENANT, owner(), "bob", "manager"),
        lambda: rs.ledger.grant(TENANT, owner(), user_id="mia", permission="leads.list", scope="all"),
        lambda: rs.ledger.revoke_grant(TENANT, owner(), "grant_6"),
        lambda: rs.ledger.change_role(TENANT, owner(), "bob", "broker"),
        lambda: rs.ledger.grant(TENANT, owner(), user_id="mia", permission="leads.booster", scope="all"),
        lambda: rs.ledger.remove_member(TENANT, owner(), "mia"),
        lambda: add_member(rs.ledger, "mia", "auditor"),
        lambda: rs.ledger.grant(TENANT, owner(), user_id="mia", permission="leads.list", scope="all"),
    ]
    for step in steps:
        rs.later(minutes=10)
        step()
        rs.sync()  # one small batch per command
    events = rs.runner.read(0, 100_000)
    projections = [DirectoryProjection(), HistoryProjection()]
    with rs.store.transaction() as tx:
        for projection in projections:
            projection.create(tx, "_one")
            projection.process(tx, events, "_one")  # the whole history in one batch
    for projection in projections:
        for table in projection.tables:
            incremental = rs.rows(f"SELECT * FROM {table}")
            at_once = rs.rows(f"SELECT * FROM {table}_one")
            assert sorted(map(repr, incremental)) == sorted(map(repr, at_once)), table
    grants = history(rs, "mia", "leads.booster")
    assert [r["source_id"] for r in grants][0] == "grant_6" and len(grants) == 2
    # open_since: the earliest start among the member's grant rows of that permission still open at the opening.
    lists = [(r["source_id"], r["valid_from"][11:16], r["open_since"][11:16]) for r in history(rs, "mia", "leads.list")]
    assert lists == [
        ("marketing", "09:50", "09:50"),  # role rows never overlap: their own start
        ("grant_6", "10:00", "10:00"),
        ("grant_7", "10:10", "10:00"),  # grant_6 (booster implies list) was open
        ("grant_11", "10:40", "10:00"),  # grant_7 expired at 10:40, grant_6 still open
        ("grant_14", "11:10", "10:40"),  # grant_6 revoked at 10:50
        ("grant_21", "11:40", "11:40"),  # after the removal closed everything
    ]
