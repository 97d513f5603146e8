"""Reading the audit trail on SQLite and PostgreSQL (R-L4): filters by time, actor, subject and type, cursor
paging, and JSON Lines / CSV export streamed in bounded chunks."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.application import AccessLedger
from domain.errors import DomainError
from projections.audit.projection import (
    FIELDS,
    AuditProjection,
    audit_export,
    audit_page,
)
from projections.db import ReadStore
from projections.runner import Runner
from tests.support import actor, add_member, open_tenant, owner


@pytest.fixture
def runner(ledger: AccessLedger, store: ReadStore) -> Runner:
    return Runner(ledger, store, [AuditProjection()])


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
    return {"tenant_id": "acme", "entries": page_all(store, 1000)}


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
