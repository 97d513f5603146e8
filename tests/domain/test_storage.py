"""The event store on SQLite and PostgreSQL: configuration, racing commands (R-X1, R-S1, R-T1) and snapshots.

Every test that takes `ledger` or `database_url` runs once per database, each on a fresh one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg
import pytest

from domain.application import SNAPSHOT_INTERVAL, AccessLedger
from domain.errors import DomainError
from domain.storage import DEFAULT_URL, parse_database_url
from domain.tenant.aggregate import tenant_uuid
from tests.support import START, actor, add_member, open_tenant, owner, recorded_events

THREADS = 25
FREE_SEATS = 5


def race(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run `action(i)` in `count` threads released together; each outcome is a value or a DomainError code."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = ("ok", action(i))
        except DomainError as error:
            outcomes[i] = (error.code, None)
        except Exception as error:  # anything else is a bug the assertions must show
            outcomes[i] = (repr(error), None)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing command never finished"
    return outcomes


# ----------------------------------------------------------------- configuration


def test_storage_default_url_is_sqlite_file_in_working_directory(tmp_path, monkeypatch, clock):
    """Storage: with no URL the ledger writes `./accessledger.db` (DESIGN.md, API.md `serve`)."""
    assert DEFAULT_URL == "sqlite:///accessledger.db"
    database = parse_database_url(None)
    assert (database.kind, database.path) == ("sqlite", "accessledger.db")
    monkeypatch.chdir(tmp_path)
    app = AccessLedger(clock=clock)
    try:
        open_tenant(app)
    finally:
        app.close()
    assert (tmp_path / "accessledger.db").is_file()


def test_storage_sqlite_file_runs_in_wal_mode(sqlite_url, clock):
    """Storage: the SQLite file is in WAL mode, so readers never block the writer."""
    app = AccessLedger(sqlite_url, clock)
    try:
        open_tenant(app)
    finally:
        app.close()
    with sqlite3.connect(parse_database_url(sqlite_url).path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


def test_storage_parses_postgresql_url_with_schema():
    """Storage: one URL carries user, password, host, port, database and schema."""
    database = parse_database_url("postgresql://al:s%40cret@db.example:6543/ledger?schema=tenants")
    assert (database.kind, database.user, database.password) == ("postgresql", "al", "s@cret")
    assert (database.host, database.port, database.dbname, database.schema) == ("db.example", 6543, "ledger", "tenants")
    assert database.eventsourcing_env()["POSTGRES_SCHEMA"] == "tenants"
    with pytest.raises(ValueError):
        parse_database_url("mysql://x/y")


def test_storage_postgresql_schema_parameter_keeps_events_in_that_schema(postgresql_url, clock):
    """Storage: `?schema=` puts the event store in that schema of the database."""
    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ledger")
    app = AccessLedger(f"{postgresql_url}?schema=ledger", clock)
    try:
        open_tenant(app)
        assert app.load("acme").owner_id == "olga"
    finally:
        app.close()
    with psycopg.connect(postgresql_url) as conn:
        schemas = {row[0] for row in conn.execute("SELECT table_schema FROM information_schema.tables")}
    assert "ledger" in schemas
    assert "public" not in schemas


# ----------------------------------------------------------------- racing commands (R-X1)


@pytest.mark.parametrize("apps", [1, 5], ids=["one-app", "five-apps"])
def test_R_X1_R_S1_25_racing_invitations_for_5_free_seats_exactly_5_succeed(ledger, database_url, clock, apps):
    """R-X1, R-S1: 25 threads invite 25 e-mails at once on a tenant with 5 free seats: exactly 5 win."""
    open_tenant(ledger, included_seats=FREE_SEATS)
    small_pool = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "6"}
    ledgers = [ledger] + [AccessLedger(database_url, clock, env=small_pool) for _ in range(apps - 1)]
    try:
        outcomes = race(
            THREADS,
            lambda i: ledgers[i % apps].invite("acme", owner(), email=f"racer{i}@acme.example", role="broker"),
        )
    finally:
        for other in ledgers[1:]:
            other.close()
    codes = Counter(code for code, _ in outcomes)
    assert codes["ok"] == FREE_SEATS, codes
    assert set(codes) <= {"ok", "seat_limit_reached", "conflict"}, codes
    tenant = ledger.load("acme")
    assert tenant.used == tenant.capacity == FREE_SEATS
    invited = [e for e in recorded_events(ledger) if type(e).__name__ == "InvitationSent"]
    winners = sorted(values.values["invitation_id"] for code, values in outcomes if code == "ok")
    assert sorted(e.invitation_id for e in invited) == winners
    assert len({e.invitation_id for e in invited}) == FREE_SEATS


def test_R_T1_10_racing_openings_of_one_tenant_exactly_one_succeeds(ledger):
    """R-T1, R-X1: the tenant's aggregate id is derived from its id, so only one of 10 racing openings wins."""
    owners = [{"user_id": f"owner{i}", "email": f"owner{i}@race.example", "name": f"Owner {i}"} for i in range(10)]
    outcomes = race(10, lambda i: open_tenant(ledger, "race", owner_info=owners[i]))
    codes = Counter(code for code, _ in outcomes)
    assert codes["ok"] == 1, codes
    assert set(codes) <= {"ok", "tenant_exists", "conflict"}, codes
    winner = next(i for i, (code, _) in enumerate(outcomes) if code == "ok")
    tenant = ledger.load("race")
    assert tenant.owner_id == f"owner{winner}"
    assert tenant.version == 1
    assert [type(e).__name__ for e in recorded_events(ledger)] == ["TenantOpened"]


def test_R_X1_R_M4_racing_demotions_keep_min_admins(ledger):
    """R-X1, R-M4: owner and two admins under min_admins 2; both admins demoted at once: exactly one demotion wins."""
    open_tenant(ledger)
    add_member(ledger, "ada", "admin")
    add_member(ledger, "abe", "admin")
    ledger.change_policy("acme", owner(), 2)
    outcomes = race(2, lambda i: ledger.change_role("acme", owner(), ["ada", "abe"][i], "broker"))
    codes = Counter(code for code, _ in outcomes)
    assert codes == Counter({"ok": 1, "min_admins": 1}), codes
    tenant = ledger.load("acme")
    assert sorted(tenant.members[u].role for u in ("ada", "abe")) == ["admin", "broker"]


# ----------------------------------------------------------------- snapshots


class ReadCounter:
    """Counts the stored events and snapshots read while loading aggregates."""

    def __init__(self, app: AccessLedger) -> None:
        self.events = 0
        self.snapshots = 0
        self._wrap(app.events.recorder, "events")
        self._wrap(app.snapshots.recorder, "snapshots")

    def _wrap(self, recorder: Any, counter: str) -> None:
        select = recorder.select_events

        def counting(*args: Any, **kwargs: Any) -> Any:
            rows = select(*args, **kwargs)
            setattr(self, counter, getattr(self, counter) + len(rows))
            return rows

        recorder.select_events = counting


def grow_history(app: AccessLedger, tenant_id: str, cycles: int, leads: int) -> None:
    """Add bob, assign him `leads` leads, remove him: each removal records one `ResourceUnassigned` per lead."""
    for cycle in range(cycles):
        add_member(app, "bob", tenant_id=tenant_id)
        ids = [f"L-{cycle}-{i}" for i in range(leads)]
        app.assign(tenant_id, owner(), resource_type="lead", resource_ids=ids, user_id="bob")
        app.remove_member(tenant_id, owner(), "bob")


@pytest.mark.slow
def test_storage_snapshots_tenant_with_100000_events_loads_like_one_with_100(ledger):
    """Snapshots (issue 3 §6): loading after 100,000 events reads about as many events as after 100."""
    open_tenant(ledger, "small")
    grow_history(ledger, "small", cycles=1, leads=95)
    open_tenant(ledger, "big")
    grow_history(ledger, "big", cycles=10, leads=10_000)
    add_member(ledger, "carol", tenant_id="big")

    reads = ReadCounter(ledger)
    small = ledger.load("small")
    small_reads = (reads.events, reads.snapshots)
    reads.events = reads.snapshots = 0
    big = ledger.load("big")
    big_reads = (reads.events, reads.snapshots)

    assert small.version >= 100
    assert big.version >= 100_000
    assert set(big.members) == {"olga", "carol"} and not big.assignments
    assert small_reads[1] == big_reads[1] == 1
    assert small_reads[0] < SNAPSHOT_INTERVAL
    assert big_reads[0] < SNAPSHOT_INTERVAL
    assert big_reads[0] <= small_reads[0] + SNAPSHOT_INTERVAL


def test_storage_snapshot_state_equals_full_replay(ledger, clock):
    """Snapshots: a tenant loaded from a snapshot equals the same tenant folded from all its events."""
    open_tenant(ledger, included_seats=20)
    add_member(ledger, "ada", "admin")
    ledger.purchase_addon("acme", owner(), "user-seats")
    ledger.invite("acme", owner(), email="ivy@acme.example", role="marketing")
    ledger.grant(
        "acme", owner(), user_id="ada", permission="leads.list", scope="all", expires_at=START.replace(year=2027)
    )
    ledger.issue_token("acme", actor("ada"), "ci")
    grow_history(ledger, "acme", cycles=1, leads=150)
    add_member(ledger, "bob")
    ledger.assign("acme", owner(), resource_type="lead", resource_ids=["L-1", "L-2"], user_id="bob")
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(tenant_uuid("acme"), desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version >= SNAPSHOT_INTERVAL

    from_snapshot = ledger.load("acme")
    folded = None
    for event in ledger.events.get(tenant_uuid("acme")):
        folded = event.mutate(folded)
    assert folded is not None
    assert vars(from_snapshot) == vars(folded)
    assert date(2026, 12, 16) == from_snapshot.term_end


# ----------------------------------------------------------------- rejected commands record nothing (R-X2)

CODES_THE_AGGREGATE_RAISES = {
    "forbidden", "not_found", "owner_immutable", "escalation", "min_admins", "seat_limit_reached", "already_member",
    "invitation_pending", "invitation_not_pending", "tenant_closed", "assignee_cannot_access", "not_grantable",
    "addon_not_active", "cancellation_not_scheduled", "cancellation_already_scheduled", "validation_error",
    "unauthenticated",
}  # fmt: skip


def rejection_world(app: AccessLedger, clock: Any) -> dict[str, str]:
    """Three tenants in which every rejection below can happen; returns the ids the cases need.

    acme: all 5 seats used (bob broker with a users.manage grant, ada admin, cy marketing, dee broker, one pending
    invitation), min_admins 3 (olga, ada and bob hold users.manage), one revoked invitation.
    shut: closed. brief: its add-on has ended and its subscription cancellation is scheduled.
    """
    day_after = {"term_start": date(2026, 11, 16), "term_end": date(2026, 11, 17)}
    open_tenant(app, "shut", **day_after)
    app.cancel_subscription("shut", owner())
    open_tenant(app, "brief", **day_after)
    addon_id = app.purchase_addon("brief", owner(), "user-seats").values["addon_id"]
    app.cancel_addon("brief", owner(), addon_id)
    clock.set(START.replace(day=17, hour=0, minute=0, second=1))
    app.sweep(["shut", "brief"])
    app.cancel_subscription("brief", owner())

    open_tenant(app)
    for user_id, role in (("bob", "broker"), ("ada", "admin"), ("cy", "marketing"), ("dee", "broker")):
        add_member(app, user_id, role)
    app.grant("acme", owner(), user_id="bob", permission="users.manage", scope="all")
    app.change_policy("acme", owner(), 3)
    gone = app.invite("acme", owner(), email="gone@acme.example", role="broker").values["invitation_id"]
    app.revoke_invitation("acme", owner(), gone)
    pending = app.invite("acme", owner(), email="pending@acme.example", role="broker").values["invitation_id"]
    assert app.load("acme").used == app.load("acme").capacity
    return {"addon": addon_id, "gone": gone, "pending": pending}


def rejection_cases(app: AccessLedger, ids: dict[str, str]) -> list[tuple[str, str, Callable[[], Any]]]:
    """(expected code, tenant, command) for at least one rejection per error code of the aggregate."""
    olga, bob, cy = owner(), actor("bob"), actor("cy")
    invite = app.invite
    return [
        ("forbidden", "acme", lambda: app.change_policy("acme", cy, 1)),
        ("forbidden", "acme", lambda: app.open_tenant(olga, tenant_id="x", name="X", plan={}, owner={})),
        ("not_found", "acme", lambda: app.change_role("acme", olga, "nobody", "broker")),
        ("not_found", "acme", lambda: app.revoke_grant("acme", olga, "grant_999")),
        ("owner_immutable", "acme", lambda: app.change_role("acme", olga, "olga", "admin")),
        ("owner_immutable", "acme", lambda: app.remove_member("acme", olga, "olga")),
        ("owner_immutable", "acme", lambda: invite("acme", olga, email="o2@acme.example", role="owner")),
        ("escalation", "acme", lambda: invite("acme", bob, email="new@acme.example", role="admin")),
        ("min_admins", "acme", lambda: app.change_role("acme", olga, "ada", "broker")),
        ("min_admins", "acme", lambda: app.remove_member("acme", actor("ada"), "ada")),
        ("seat_limit_reached", "acme", lambda: invite("acme", olga, email="new@acme.example", role="broker")),
        ("already_member", "acme", lambda: invite("acme", olga, email="bob@acme.example", role="broker")),
        ("already_member", "acme", lambda: add_member(app, "bob")),
        ("invitation_pending", "acme", lambda: invite("acme", olga, email="pending@acme.example", role="broker")),
        ("invitation_not_pending", "acme", lambda: app.revoke_invitation("acme", olga, ids["gone"])),
        ("invitation_not_pending", "acme", lambda: app.resend_invitation("acme", olga, ids["gone"])),
        ("tenant_closed", "shut", lambda: add_member(app, "late", tenant_id="shut")),
        ("tenant_closed", "shut", lambda: app.withdraw_cancellation("shut", olga)),
        ("assignee_cannot_access", "acme", lambda: app.assign("acme", olga, resource_type="lead",
                                                              resource_ids=["L-1"], user_id="cy")),
        ("not_grantable", "acme", lambda: app.grant("acme", olga, user_id="ada", permission="subscription.cancel",
                                                    scope="all")),
        ("addon_not_active", "brief", lambda: app.cancel_addon("brief", olga, ids["addon"])),
        ("cancellation_not_scheduled", "acme", lambda: app.withdraw_cancellation("acme", olga)),
        ("cancellation_already_scheduled", "brief", lambda: app.cancel_subscription("brief", olga)),
        ("validation_error", "acme", lambda: invite("acme", olga, email="new@acme.example", role="wizard")),
        ("validation_error", "acme", lambda: app.change_policy("acme", olga, 0)),
        ("validation_error", "acme", lambda: app.assign("acme", olga, resource_type="lead", resource_ids=[],
                                                        user_id="bob")),
        ("unauthenticated", "acme", lambda: app.accept_invitation(actor("zed"), token="inv.acme.forged",
                                                                  user_id="zed", name="Zed")),
        ("unauthenticated", "acme", lambda: app.decline_invitation(actor("zed"), token="not-a-token")),
        ("tenant_exists", "acme", lambda: open_tenant(app)),
    ]  # fmt: skip


def test_R_X2_every_rejected_command_records_nothing(ledger, clock):
    """R-X2: each rejected command raises its code; the log's head and the tenant's version stay unchanged."""
    ids = rejection_world(ledger, clock)
    cases = rejection_cases(ledger, ids)
    assert {code for code, _, _ in cases} >= CODES_THE_AGGREGATE_RAISES
    problems = []
    for index, (code, tenant_id, command) in enumerate(cases):
        head, version = ledger.head_position(), ledger.load(tenant_id).version
        try:
            command()
        except DomainError as error:
            if error.code != code:
                problems.append(f"case {index}: expected {code}, got {error.code}: {error.detail}")
        else:
            problems.append(f"case {index}: expected {code}, but the command succeeded")
        if (ledger.head_position(), ledger.load(tenant_id).version) != (head, version):
            problems.append(f"case {index} ({code}) recorded events")
    assert not problems, "\n".join(problems)
    # The rejections left nothing half-applied behind: the next command records exactly its own event.
    head = ledger.head_position()
    ledger.revoke_invitation("acme", owner(), ids["pending"])
    assert [type(e).__name__ for e in recorded_events(ledger, head + 1)] == ["InvitationRevoked"]
