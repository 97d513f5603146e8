"""The audit trail on SQLite and PostgreSQL: every event once with its fields (R-L1), a hash chain that verify
checks against the event store (R-L2) and UPDATE/DELETE refused by the database (R-L3); reading it (R-L4): see
test_audit_reading.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
import rfc8785

from domain.application import AccessLedger, hash_token
from domain.clock import ManualClock
from domain.personal import loads_readable, open_with
from domain.tenant.metadata import event_data
from projections.audit.projection import (
    GENESIS_HASH,
    AuditProjection,
    audit_page,
)
from projections.audit.verify import verify_every_tenant, verify_tenant
from projections.db import ReadStore
from projections.eventstore import event_store_tables
from projections.guards import install_guards
from projections.runner import Runner
from tests.projections.random_history import RandomHistory
from tests.support import actor, add_member, open_tenant, owner, recorded_events


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
        # Personal fields are stored sealed (R-L6): opened with the ledger's keys they are the event's values.
        assert loads_readable(entry["data"], lambda envelope: open_with(ledger.keys, envelope)) == plain(expected)
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
            body = hashed_body(item)
            assert item["hash"] == hashlib.sha256(bytes.fromhex(previous) + rfc8785.dumps(body)).hexdigest()
            previous = item["hash"]
        assert verify_tenant(store, ledger, tenant_id) == {"ok": True, "entries": len(items), "first_mismatch": None}
    everything = verify_every_tenant(store, ledger)
    assert everything["ok"] and everything["entries"] == ledger.head_position()


def hashed_body(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without `hash`, each personal value replaced by the hashed form its `sealed` lists (R-L6)."""
    body = json.loads(json.dumps({k: v for k, v in entry.items() if k not in ("hash", "sealed")}))
    for path, digest in entry.get("sealed", {}).items():
        *parents, leaf = path.split(".")
        node = body
        for name in parents:
            node = node[name]
        node[leaf] = digest
    return body


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
    result = verify_tenant(store, ledger, tenant_id)
    assert result["ok"] is False
    mismatch = result["first_mismatch"]
    assert (mismatch["sequence"], mismatch["position"]) == (victim["sequence"], victim["position"])
    assert mismatch["problem"].startswith(problem)
    assert verify_tenant(store, ledger, driver.tenants[0])["ok"] is True
    everything = verify_every_tenant(store, ledger)
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
    mismatch = verify_tenant(store, ledger, tenant_id)["first_mismatch"]
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
