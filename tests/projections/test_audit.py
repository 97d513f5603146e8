"""The audit trail on SQLite and PostgreSQL: every event once with its fields (R-L1), a hash chain that verify
checks against the event store (R-L2), UPDATE/DELETE refused by the database (R-L3), filters, paging and export
(R-L4).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import rfc8785

from domain.application import AccessLedger, hash_token
from domain.clock import ManualClock
from domain.errors import DomainError
from domain.tenant.metadata import event_data
from projections.audit.projection import (
    FIELDS,
    GENESIS_HASH,
    AuditProjection,
    audit_export,
    audit_page,
    verify,
    verify_all,
)
from projections.db import ReadStore
from projections.eventstore import event_store_tables
from projections.guards import install_guards
from projections.runner import Runner
from tests.projections.random_history import RandomHistory
from tests.support import actor, add_member, open_tenant, owner, recorded_events


@pytest.fixture
def store(ledger: AccessLedger) -> Iterator[ReadStore]:
    read_store = ReadStore(ledger.database)
    yield read_store
    read_store.close()


@pytest.fixture
def runner(ledger: AccessLedger, store: ReadStore) -> Runner:
    return Runner(ledger, store, [AuditProjection()])


def rows(store: ReadStore, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with store.reader() as tx:
        return tx.all(sql, params)


def utc_text(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """JSON-ready values (API.md: RFC 3339 UTC times with Z, ISO dates), computed here on their own."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def history(ledger: AccessLedger, clock: ManualClock, steps: int = 120, seed: int = 7) -> RandomHistory:
    driver = RandomHistory(ledger, clock, seed=seed, tenants=2)
    driver.run(steps)
    return driver


# ----------------------------------------------------------------- R-L1


def test_R_L1_every_event_appears_once_in_order_with_every_field(ledger, clock, store, runner):
    """R-L1: one entry per event, ordered by position, with position, tenant, sequence, type, times, actor,
    subject, request id, the caller's reason and the event's data."""
    driver = history(ledger, clock)
    # A tenant with a free seat for one more member (the random history fills some).
    tenant_id = next(t for t in driver.tenants if ledger.load(t).used < ledger.load(t).capacity)
    add_member(ledger, "zed", tenant_id=tenant_id)
    ledger.remove_member(tenant_id, owner(request_id="req_gone", reason="left the company"), "zed")
    runner.catch_up()
    notifications = ledger.recorder.select_notifications(1, 1_000_000)
    entries = rows(store, "SELECT * FROM audit_entries ORDER BY position")
    assert [e["position"] for e in entries] == [n.id for n in notifications]
    for notification, entry in zip(notifications, entries, strict=True):
        event = ledger.mapper.to_domain_event(notification)
        secret = type(event).SECRET_FIELDS
        assert entry["tenant_id"] == event.tenant_id
        assert entry["sequence"] == event.originator_version
        assert entry["event_type"] == type(event).__name__
        assert entry["occurred_at"] == utc_text(event.occurred_at)
        assert entry["recorded_at"] == utc_text(event.timestamp)
        assert entry["actor"] == event.actor
        assert entry["subject"] == getattr(event, "user_id", None)
        assert entry["request_id"] == event.request_id
        assert entry["reason"] == event.caller_reason
        expected = {k: v for k, v in event_data(event).items() if k not in secret}
        assert json.loads(entry["data"]) == plain(expected)
    removed = [e for e in entries if e["request_id"] == "req_gone" and e["event_type"] == "MemberRemoved"]
    assert len(removed) == 1
    assert removed[0]["reason"] == "left the company"
    assert json.loads(removed[0]["data"])["reason"] == "removed"
    assert removed[0]["subject"] == "zed"


def test_R_L1_no_secret_or_token_hash_anywhere_in_the_trail(ledger, clock, store, runner):
    """R-L1: tokens and their hashes never reach the audit table (nor the `data` of any entry)."""
    opened = open_tenant(ledger)
    secrets = {opened.owner_token, hash_token(opened.owner_token)}
    member = add_member(ledger, "bob")
    secrets |= {member.values["token"], hash_token(member.values["token"])}
    invite = ledger.invite(opened.tenant_id, owner(), email="eve@acme.example", role="broker")
    secrets |= {invite.values["token"], hash_token(invite.values["token"])}
    resent = ledger.resend_invitation(opened.tenant_id, owner(), invite.values["invitation_id"])
    secrets |= {resent.values["token"], hash_token(resent.values["token"])}
    issued = ledger.issue_token(opened.tenant_id, actor("bob"), label="ci")
    secrets |= {issued.values["token"], hash_token(issued.values["token"])}
    for event in recorded_events(ledger):
        secrets |= {getattr(event, name) for name in type(event).SECRET_FIELDS}
    runner.catch_up()
    text = json.dumps(rows(store, "SELECT * FROM audit_entries"), default=str)
    assert len(secrets) >= 10
    for secret in secrets:
        assert secret not in text
    assert "token_hash" not in text


def test_R_L1_only_the_trails_own_tables_are_named_audit(ledger, store):
    """API.md: the audit trail's own tables are the only tables whose names contain `audit`."""
    from projections import all_projections

    Runner(ledger, store, all_projections())
    open_tenant(ledger)
    if store.kind == "postgresql":
        names = [
            r["table_name"]
            for r in rows(
                store, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        ]
    else:
        names = [r["name"] for r in rows(store, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert [n for n in names if "audit" in n] == ["audit_entries"]


# ----------------------------------------------------------------- R-L2


def test_R_L2_chain_links_every_entry_and_verifies(ledger, clock, store, runner):
    """R-L2: hash = SHA-256(prev_hash ‖ RFC 8785 JSON of the entry without `hash`); first prev_hash is zeros."""
    driver = history(ledger, clock)
    runner.catch_up()
    for tenant_id in driver.tenants:
        items = all_entries(store, tenant_id)
        previous = GENESIS_HASH
        for item in items:
            assert item["prev_hash"] == previous
            body = {k: v for k, v in item.items() if k != "hash"}
            assert item["hash"] == hashlib.sha256(bytes.fromhex(previous) + rfc8785.dumps(body)).hexdigest()
            previous = item["hash"]
        assert verify(store, ledger, tenant_id) == {"ok": True, "entries": len(items), "first_mismatch": None}
    everything = verify_all(store, ledger)
    assert everything["ok"] and everything["entries"] == ledger.head_position()


def all_entries(store: ReadStore, tenant_id: str) -> list[dict[str, Any]]:
    with store.reader() as tx:
        items, cursor = audit_page(tx, tenant_id, limit=1000)
    assert cursor is None
    return items


def drop_guard(store: ReadStore, table: str = "audit_entries") -> None:
    """What an owner of the database can do: remove the append-only triggers."""
    with store.transaction() as tx:
        if store.kind == "postgresql":
            tx.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            tx.execute(f"DROP TRIGGER {table}_no_update")
            tx.execute(f"DROP TRIGGER {table}_no_delete")


TAMPERING = {
    "data": ("UPDATE audit_entries SET data = ? WHERE position = ?", "data differs from event store"),
    "actor": ("UPDATE audit_entries SET actor = ? WHERE position = ?", "actor differs from event store"),
    "hash": ("UPDATE audit_entries SET hash = ? WHERE position = ?", "hash mismatch"),
    "prev_hash": ("UPDATE audit_entries SET prev_hash = ? WHERE position = ?", "broken chain"),
    "delete": ("DELETE FROM audit_entries WHERE position = ?", "missing entry"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_R_L2_verify_names_the_first_tampered_entry(ledger, clock, store, runner, kind):
    """R-L2: after the guard is dropped and one entry changed, verify names that entry and what is wrong."""
    driver = history(ledger, clock)
    runner.catch_up()
    tenant_id = driver.tenants[1]
    entries = rows(store, "SELECT * FROM audit_entries WHERE tenant_id = ? ORDER BY sequence", (tenant_id,))
    victim = entries[len(entries) // 2]
    drop_guard(store)
    statement, problem = TAMPERING[kind]
    values = {
        "data": json.dumps({**json.loads(victim["data"]), "role": "owner"}),
        "actor": "mallory",
        "hash": "f" * 64,
        "prev_hash": "e" * 64,
    }
    params = (victim["position"],) if kind == "delete" else (values[kind], victim["position"])
    with store.transaction() as tx:
        tx.execute(statement, params)
    result = verify(store, ledger, tenant_id)
    assert result["ok"] is False
    mismatch = result["first_mismatch"]
    assert (mismatch["sequence"], mismatch["position"]) == (victim["sequence"], victim["position"])
    assert mismatch["problem"].startswith(problem)
    assert verify(store, ledger, driver.tenants[0])["ok"] is True
    everything = verify_all(store, ledger)
    assert everything["ok"] is False
    assert [m["tenant_id"] for m in everything["mismatches"]] == [tenant_id]
    assert everything["first_mismatch"]["position"] == victim["position"]


def test_R_L2_a_rehashed_forgery_is_still_caught_by_the_event_store(ledger, clock, store, runner):
    """R-L2: rewriting an entry and re-chaining every later hash passes the chain but not the event store."""
    from projections.audit.projection import entry_hash, entry_of

    driver = history(ledger, clock)
    runner.catch_up()
    tenant_id = driver.tenants[0]
    entries = [
        entry_of(r)
        for r in rows(store, "SELECT * FROM audit_entries WHERE tenant_id = ? ORDER BY sequence", (tenant_id,))
    ]
    start = len(entries) // 3
    drop_guard(store)
    previous = entries[start]["prev_hash"]
    with store.transaction() as tx:
        for index, entry in enumerate(entries[start:]):
            if index == 0:
                entry["actor"] = "mallory"
            entry["prev_hash"] = previous
            entry["hash"] = entry_hash(entry)
            previous = entry["hash"]
            tx.execute(
                "UPDATE audit_entries SET actor = ?, prev_hash = ?, hash = ? WHERE position = ?",
                (entry["actor"], entry["prev_hash"], entry["hash"], entry["position"]),
            )
    mismatch = verify(store, ledger, tenant_id)["first_mismatch"]
    assert mismatch == {
        "sequence": entries[start]["sequence"],
        "position": entries[start]["position"],
        "problem": "actor differs from event store",
    }


# ----------------------------------------------------------------- R-L3


def expected_event_tables(store: ReadStore) -> list[str]:
    if store.kind == "postgresql":
        return ["accessledger_events", "accessledger_snapshots"]
    return ["stored_events", "stored_snapshots"]


REFUSED = (sqlite3.DatabaseError, psycopg.Error)


@pytest.mark.parametrize("table_kind", ["audit", "events", "snapshots"])
def test_R_L3_update_and_delete_fail_in_the_database(ledger, store, runner, table_kind):
    """R-L3: UPDATE and DELETE on the audit table and on the event store's tables fail, even sent as raw SQL."""
    opened = open_tenant(ledger)
    for _ in range(105):  # enough for a snapshot (every 100 events)
        ledger.issue_token(opened.tenant_id, owner())
    runner.catch_up()
    install_guards(store)  # idempotent: a second install changes nothing
    with store.reader() as tx:
        assert event_store_tables(tx) == expected_event_tables(store)
    table = {
        "audit": "audit_entries",
        "events": expected_event_tables(store)[0],
        "snapshots": expected_event_tables(store)[1],
    }[table_kind]
    column = "tenant_id" if table_kind == "audit" else "topic"
    before = rows(store, f"SELECT count(*) AS n FROM {table}")[0]["n"]
    assert before > 0
    attempts = [f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"]
    if store.kind == "postgresql":
        attempts.append(f"TRUNCATE {table}")
    for statement in attempts:
        with pytest.raises(REFUSED, match="append-only"), store.transaction() as tx:
            tx.execute(statement)
    assert rows(store, f"SELECT count(*) AS n FROM {table}")[0]["n"] == before
    if table_kind == "audit":
        assert rows(store, f"SELECT count(*) AS n FROM {table} WHERE {column} = 'x'")[0]["n"] == 0
    # Tracking is updated in place and must stay writable.
    with store.transaction() as tx:
        tx.execute("UPDATE projection_tracking SET position = position WHERE name = 'audit'")


# ----------------------------------------------------------------- R-L4


@pytest.fixture
def trail(ledger, clock, store, runner) -> dict[str, Any]:
    """Tenant acme with a known history over several days, and a second tenant that must never show up."""
    opened = open_tenant(ledger, included_seats=10)
    open_tenant(ledger, "globex", included_seats=10)
    add_member(ledger, "ann", "admin")
    for day in range(6):
        clock.set(clock.now() + timedelta(days=1))
        add_member(ledger, f"b{day}", by="ann" if day % 2 else "olga")
        ledger.change_role(opened.tenant_id, actor("ann"), f"b{day}", "manager")
        add_member(ledger, f"x{day}", tenant_id="globex")
    runner.catch_up()
    return {"tenant_id": "acme", "entries": all_entries(store, "acme")}


def page_all(store: ReadStore, limit: int, **filters: Any) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        with store.reader() as tx:
            items, cursor = audit_page(tx, "acme", cursor=cursor, limit=limit, **filters)
        assert len(items) <= limit
        out.extend(items)
        if cursor is None:
            return out


def test_R_L4_filters_by_time_actor_subject_and_type(store, trail):
    """R-L4: since (inclusive) and until (exclusive) on occurred_at, actor, subject and event types combine."""
    entries = trail["entries"]
    assert {e["tenant_id"] for e in entries} == {"acme"}
    instants = sorted({e["occurred_at"] for e in entries})
    since, until = instants[2], instants[5]

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    cases = [
        ({"since": parse(since)}, lambda e: e["occurred_at"] >= since),
        ({"until": parse(until)}, lambda e: e["occurred_at"] < until),
        ({"since": parse(since), "until": parse(until)}, lambda e: since <= e["occurred_at"] < until),
        ({"actor": "ann"}, lambda e: e["actor"] == "ann"),
        ({"subject": "b3"}, lambda e: e["subject"] == "b3"),
        ({"types": ["MemberRoleChanged"]}, lambda e: e["event_type"] == "MemberRoleChanged"),
        (
            {"types": ["MemberAdded", "TokenIssued"], "actor": "olga"},
            lambda e: e["event_type"] in ("MemberAdded", "TokenIssued") and e["actor"] == "olga",
        ),
    ]
    for filters, keep in cases:
        expected = [e for e in entries if keep(e)]
        assert expected, filters
        assert len(expected) < len(entries), filters
        assert page_all(store, 1000, **filters) == expected, filters
        assert page_all(store, 3, **filters) == expected, filters


def test_R_L4_cursor_pages_through_everything_once(store, trail):
    """R-L4: pages follow each other with an opaque cursor; together they are the whole trail, in order."""
    assert page_all(store, 4) == trail["entries"]
    assert page_all(store, 1) == trail["entries"]


@pytest.mark.parametrize("cursor", ["garbage!", "eyJ4IjogMX0", "", "bm90IGpzb24"])
def test_R_L4_malformed_cursor_is_a_validation_error(store, trail, cursor):
    """R-L4 / API.md: a cursor this server did not write answers validation_error."""
    with pytest.raises(DomainError) as raised, store.reader() as tx:
        audit_page(tx, "acme", cursor=cursor)
    assert raised.value.code == "validation_error"


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 1001}, {"types": ["NoSuchEvent"]}])
def test_R_L4_bad_limit_or_unknown_type_is_a_validation_error(store, trail, bad):
    """R-L4: limit is 1..1000 and event types are the ones API.md lists."""
    with pytest.raises(DomainError) as raised, store.reader() as tx:
        audit_page(tx, "acme", **bad)
    assert raised.value.code == "validation_error"


def test_R_L4_export_jsonl_and_csv_hold_every_matching_entry(store, trail):
    """R-L4: JSON Lines (one entry a line) and CSV (header, `data` as JSON text) hold exactly the matches."""
    entries = trail["entries"]
    lines = "".join(audit_export(store, "acme", "jsonl")).splitlines()
    assert [json.loads(line) for line in lines] == entries
    table = list(csv.reader(io.StringIO("".join(audit_export(store, "acme", "csv")))))
    assert table[0] == list(FIELDS)
    assert len(table) == len(entries) + 1
    for record, entry in zip(table[1:], entries, strict=True):
        row = dict(zip(FIELDS, record, strict=True))
        assert int(row["position"]) == entry["position"]
        assert json.loads(row["data"]) == entry["data"]
        assert row["hash"] == entry["hash"]
        assert row["subject"] == (entry["subject"] or "")
    only = "".join(audit_export(store, "acme", "jsonl", {"types": ["MemberRoleChanged"], "actor": "ann"}))
    expected = [e for e in entries if e["event_type"] == "MemberRoleChanged" and e["actor"] == "ann"]
    assert [json.loads(line) for line in only.splitlines()] == expected


def test_R_L4_export_streams_in_bounded_chunks(ledger, store, runner, monkeypatch):
    """R-L4: export is a stream of bounded chunks read from a cursor, never the whole trail at once."""
    monkeypatch.setattr("projections.audit.projection.EXPORT_CHUNK", 10)
    opened = open_tenant(ledger)
    for _ in range(45):
        ledger.issue_token(opened.tenant_id, owner())
    runner.catch_up()
    stream = audit_export(store, opened.tenant_id, "jsonl")
    assert not isinstance(stream, (list, str))
    sizes = [chunk.count("\n") for chunk in stream]
    assert sizes == [10, 10, 10, 10, 6]
    with pytest.raises(DomainError):
        audit_export(store, opened.tenant_id, "xml")
