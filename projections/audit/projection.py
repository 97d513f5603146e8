"""The audit trail (R-L1…R-L4): one row per event in `audit_entries`, hash-chained per tenant, append-only.

The chain: each entry is the API's `AuditEntry` without `hash`; `hash = hex(SHA-256(bytes.fromhex(prev_hash) ‖
canonical JSON (RFC 8785) of that entry))`, and a tenant's first entry has `prev_hash` = 64 zeros. So anyone holding
an exported trail can check it with a SHA-256 and an RFC 8785 library. `recorded_at` is the event store's own
timestamp of the event, which makes a rebuilt trail hash for hash the one built live (R-R1).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from domain.errors import validation
from domain.personal import PREFIX, open_with, personal_paths, readable_form
from domain.tenant.events import TenantEvent
from projections import guards
from projections.audit.chain import (
    FIELDS,
    GENESIS_HASH,
    canonical_json,
    chain_hash,
    chained,
    derive_entry,
    entry_hash,
    entry_of,
    instant_text,
    micros,
)
from projections.batch import insert_rows
from projections.db import ReadStore, Tx
from projections.eventstore import Recorded
from projections.safe_output import csv_row
from projections.values import decode_cursor, encode_cursor

TABLE = "audit_entries"
# `occurred_us` (microseconds since the epoch) orders and filters by time: ISO strings with and without a
# fraction do not sort as instants do.
STORED = (*FIELDS[:5], "occurred_us", *FIELDS[5:])
_SELECT = ", ".join(FIELDS)
EXPORT_CHUNK = 500  # rows per streamed chunk

# The chain's names stay importable from here, beside the projection and its queries.
__all__ = [
    "EXPORT_CHUNK",
    "FIELDS",
    "GENESIS_HASH",
    "STORED",
    "TABLE",
    "AuditProjection",
    "audit_export",
    "audit_page",
    "canonical_json",
    "chained",
    "derive_entry",
    "entries_at",
    "entry_hash",
    "entry_of",
    "event_types",
    "instant_text",
    "last_hash",
    "micros",
    "private_reader",
]


# ----------------------------------------------------------------- the projection


class AuditProjection:
    """Writes one hash-chained entry per event; the table is guarded against UPDATE and DELETE."""

    name = "audit"
    tables = (TABLE,)

    def create(self, tx: Tx, suffix: str = "") -> None:
        table = TABLE + suffix
        tx.execute(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                position BIGINT NOT NULL, tenant_id TEXT NOT NULL, sequence BIGINT NOT NULL,
                event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, occurred_us BIGINT NOT NULL,
                recorded_at TEXT NOT NULL, actor TEXT NOT NULL, subject TEXT, request_id TEXT, reason TEXT,
                data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
                CONSTRAINT {table}_pk PRIMARY KEY (position))"""
        )
        tx.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_sequence ON {table} (tenant_id, sequence)")
        for label, column in (("time", "occurred_us"), ("actor", "actor"), ("subject", "subject")):
            tx.execute(f"CREATE INDEX IF NOT EXISTS {table}_{label} ON {table} (tenant_id, {column}, sequence)")
        tx.execute(f"CREATE INDEX IF NOT EXISTS {table}_type ON {table} (tenant_id, event_type, sequence)")
        if not suffix:
            # The rebuild's aside table gets its guards when it is swapped in (see projections.rebuild).
            guards.install(tx)

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        insert_rows(tx, TABLE + suffix, STORED, self.rows(tx, batch, suffix))

    def rows(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> list[tuple[Any, ...]]:
        """The batch's rows (`STORED` columns), chained to each tenant's newest stored entry: computed apart from
        their insert, so a rebuild's audit worker holds SQLite's write lock only while it inserts."""
        last: dict[str, str] = {}
        rows = []
        for recorded in batch:
            entry = derive_entry(recorded)
            tenant_id = entry["tenant_id"]
            prev_hash = last.get(tenant_id)
            if prev_hash is None:
                prev_hash = last_hash(tx, tenant_id, suffix)
            entry["prev_hash"] = prev_hash
            data_json = canonical_json(entry["data"]).decode()
            last[tenant_id] = entry["hash"] = chain_hash(entry, data_json)
            rows.append(
                (
                    *(entry[name] for name in FIELDS[:5]),
                    micros(recorded.event.occurred_at),
                    *(entry[name] for name in FIELDS[5:10]),
                    data_json,
                    prev_hash,
                    entry["hash"],
                )
            )
        return rows


def last_hash(tx: Tx, tenant_id: str, suffix: str = "") -> str:
    """The hash of the tenant's newest entry, or the genesis hash."""
    found = tx.scalar(
        f"SELECT hash FROM {TABLE}{suffix} WHERE tenant_id = ? ORDER BY sequence DESC LIMIT 1", (tenant_id,)
    )
    return found or GENESIS_HASH


# ----------------------------------------------------------------- reading (R-L4)


def event_types() -> frozenset[str]:
    """Every event type name the trail can hold."""
    names: set[str] = set()
    todo: list[type] = [TenantEvent]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if not sub.__name__.startswith("_"):
                names.add(sub.__name__)
    return frozenset(names)


def _where(
    tenant_id: str,
    since: datetime | None,
    until: datetime | None,
    actor: str | None,
    subject: str | None,
    types: Iterable[str] | None,
) -> tuple[str, list[Any]]:
    clauses, params = ["tenant_id = ?"], [tenant_id]
    if since is not None:
        clauses.append("occurred_us >= ?")
        params.append(micros(since))
    if until is not None:
        clauses.append("occurred_us < ?")
        params.append(micros(until))
    if actor is not None:
        clauses.append("actor = ?")
        params.append(actor)
    if subject is not None:
        clauses.append("subject = ?")
        params.append(subject)
    wanted = sorted(set(types or ()))
    if wanted:
        unknown = [t for t in wanted if t not in event_types()]
        if unknown:
            raise validation(f"unknown event type {unknown[0]!r}", ("query", "type"))
        clauses.append(f"event_type IN ({', '.join('?' for _ in wanted)})")
        params.extend(wanted)
    return " AND ".join(clauses), params


def audit_page(
    tx: Tx,
    tenant_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    subject: str | None = None,
    types: Iterable[str] | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the tenant's entries in order (`since` inclusive, `until` exclusive, on `occurred_at`)."""
    if not 1 <= limit <= 1000:
        raise validation("limit must be between 1 and 1000", ("query", "limit"))
    where, params = _where(tenant_id, since, until, actor, subject, types)
    if cursor is not None:
        where += " AND sequence > ?"
        params.append(decode_cursor(cursor, (int,))[0])
    keys, tx.keys = tx.keys, None  # rows as stored: `open_entry` opens them and lists what the chain hashed
    try:
        rows = tx.all(f"SELECT {_SELECT} FROM {TABLE} WHERE {where} ORDER BY sequence LIMIT ?", (*params, limit + 1))
    finally:
        tx.keys = keys
    items = [_readable(entry_of(row), keys) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1]["sequence"]]) if len(rows) > limit else None
    return items, next_cursor


def entries_at(tx: Tx, tenant_id: str, positions: Iterable[int]) -> list[dict[str, Any]]:
    """The tenant's entries at the given global positions, in order (explain)."""
    wanted = sorted(set(positions))
    out: list[dict[str, Any]] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        keys, tx.keys = tx.keys, None
        try:
            rows = tx.all(
                f"SELECT {_SELECT} FROM {TABLE} WHERE tenant_id = ? AND position IN ({', '.join('?' for _ in chunk)})"
                " ORDER BY position",
                (tenant_id, *chunk),
            )
        finally:
            tx.keys = keys
        out.extend(_readable(entry_of(row), keys) for row in rows)
    return out


def open_entry(entry: dict[str, Any], keys: Any) -> dict[str, Any]:
    """The entry as readers get it (R-L6): personal values open (their text, or `[erased]`), and `sealed`: the
    hashed form (`sha256:…`) of each by path, which the chain covers in their place, so the chain can be checked
    from what a reader holds (docs/compliance.md). Entries without personal values are unchanged."""
    personal = {"reason": entry["reason"], "data": entry["data"]}
    sealed = personal_paths(personal)
    if not sealed:
        return entry
    entry.update(readable_form(personal, lambda envelope: open_with(keys, envelope)))
    entry["sealed"] = sealed
    return entry


def _readable(entry: dict[str, Any], keys: Any) -> dict[str, Any]:
    """Open for readers; as stored for a raw transaction (verification)."""
    return entry if keys is None else open_entry(entry, keys)


def _personal_line(row: dict[str, Any], keys: Any) -> dict[str, Any]:
    return open_entry(entry_of(row), keys)


@contextmanager
def private_reader(store: ReadStore) -> Iterator[Tx]:
    """A read snapshot on a connection of its own: a stream may outlive the thread that opened it."""
    if store.kind == "postgresql":
        with store.reader(raw=True) as tx:
            yield tx
        return
    conn = sqlite3.connect(store.database.path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = lambda cursor, row: {c[0]: v for c, v in zip(cursor.description, row, strict=True)}
    try:
        conn.execute("BEGIN")
        yield Tx(conn, "sqlite")
    finally:
        conn.close()


def audit_export(store: ReadStore, tenant_id: str, fmt: str, filters: dict[str, Any] | None = None) -> Iterator[str]:
    """Every matching entry as JSON Lines or CSV (header first, `data` as JSON text), streamed in chunks."""
    if fmt not in ("jsonl", "csv"):
        raise validation("format must be jsonl or csv", ("query", "format"))
    filters = dict(filters or {})
    where, params = _where(
        tenant_id,
        filters.get("since"),
        filters.get("until"),
        filters.get("actor"),
        filters.get("subject"),
        filters.get("types"),
    )
    return _export(store, fmt, f"SELECT {_SELECT} FROM {TABLE} WHERE {where} ORDER BY sequence", params)


_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_BEFORE_DATA = FIELDS[: FIELDS.index("data")]


def jsonl_line(row: dict[str, Any]) -> str:
    """One exported line: the entry as `entry_of` gives it, with the stored `data` (canonical JSON, which is what
    compact json.dumps writes for it) spliced in as it is: no parse and re-dump of every row (issue 8)."""
    head = _compact({name: row[name] for name in _BEFORE_DATA})
    return f'{head[:-1]},"data":{row["data"]},"prev_hash":"{row["prev_hash"]}","hash":"{row["hash"]}"}}\n'


def _export(store: ReadStore, fmt: str, statement: str, params: list[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(FIELDS)
    keys = store.keys
    with private_reader(store) as tx:
        for count, row in enumerate(tx.stream(statement, params), start=1):
            personal = PREFIX in row["data"] or (row["reason"] or "").startswith(PREFIX)
            if fmt == "csv":
                if personal:
                    entry = _personal_line(row, keys)
                    row = {**row, "reason": entry["reason"], "data": _compact(entry["data"])}
                writer.writerow(csv_row(row[name] for name in FIELDS))  # R-X7
            elif personal:
                buffer.write(_compact(_personal_line(row, keys)) + "\n")
            else:
                buffer.write(jsonl_line(row))
            if count % EXPORT_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
