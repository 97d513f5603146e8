"""The one adapter for the event store's tables: every read of eventsourcing's stored events, and where they are.

The runner, the rebuild, verify and the per-tenant rebuild read its table directly: a command waits for the
runner's small batches (one statement, where the recorder spends three round trips on PostgreSQL), a rebuild's
batches are read as plain tuples (issue 17), the recorder can list the whole notification log but not one
aggregate's events with their global positions, and a read-model transaction sees them in the same snapshot as the
read models being compared. The guards ask here which tables hold events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.tenant.aggregate import tenant_uuid
from projections.db import Tx
from projections.decoding import decoder_of


@dataclass(frozen=True)
class Recorded:
    """One event as a projection sees it: its global position, the domain event, and when it was stored."""

    position: int
    event: Any
    recorded_at: datetime

    @property
    def event_type(self) -> str:
        return type(self.event).__name__


def events_table(app: Any) -> str:
    """The name of the application's stored-events table (`stored_events`, or `<app>_events` on PostgreSQL)."""
    return app.recorder.events_table_name


def _position_column(tx: Tx) -> str:
    return "notification_id" if tx.kind == "postgresql" else "rowid"


def _recorded(app: Any, row: dict[str, Any]) -> Recorded:
    originator_id = row["originator_id"]
    if isinstance(originator_id, str):
        originator_id = uuid.UUID(originator_id)
    state = row["state"]
    state = bytes(state) if not isinstance(state, bytes) else state
    event = decoder_of(app).event(originator_id, row["originator_version"], row["topic"], state)
    return Recorded(row["position"], event, event.timestamp)


def tenant_events(tx: Tx, app: Any, tenant_id: str, upto: int | None = None) -> Iterator[Recorded]:
    """The tenant's events in order (streamed), with their global positions; none past `upto`."""
    column = _position_column(tx)
    key: Any = tenant_uuid(tenant_id)
    if tx.kind == "sqlite":
        key = key.hex  # as eventsourcing stores UUIDs in SQLite
    statement = (
        f"SELECT {column} AS position, originator_id, originator_version, topic, state "
        f"FROM {events_table(app)} WHERE originator_id = ?"
    )
    params: list[Any] = [key]
    if upto is not None:
        statement += f" AND {column} <= ?"
        params.append(upto)
    for row in tx.stream(statement + " ORDER BY originator_version", params):
        yield _recorded(app, row)


def all_events(tx: Tx, app: Any, upto: int | None = None, after: int = 0) -> Iterator[Recorded]:
    """Every event after position `after` in global order (streamed); none past `upto`."""
    column = _position_column(tx)
    statement = (
        f"SELECT {column} AS position, originator_id, originator_version, topic, state FROM {events_table(app)}"
        f" WHERE {column} > ?"
    )
    params: list[Any] = [after]
    if upto is not None:
        statement += f" AND {column} <= ?"
        params.append(upto)
    for row in tx.stream(statement + f" ORDER BY {column}", params):
        yield _recorded(app, row)


def head(tx: Tx, app: Any) -> int:
    """The newest global position as this transaction sees it (0 for an empty store)."""
    return tx.scalar(f"SELECT max({_position_column(tx)}) AS head FROM {events_table(app)}") or 0


def read_batch(store: Any, app: Any, after: int, limit: int, upto: int | None = None) -> list[Recorded]:
    """`events_after` in an autocommit statement of the store (the rebuild's batches)."""
    with store.autocommit() as tx:
        return events_after(tx, app, after, limit, upto)


def events_after(tx: Tx, app: Any, after: int, limit: int, upto: int | None = None) -> list[Recorded]:
    """Up to `limit` events after global position `after` (none past `upto`), decoded once for every projection
    (personal values stay sealed: see projections.decoding). One statement on the read store's connection, rows as
    plain tuples, each tenant's UUID made once: eventsourcing's recorder spends two more round trips on PostgreSQL
    (its pool's pre-ping, a COMMIT) and builds a dict and a UUID per row (issue 17)."""
    column = _position_column(tx)
    statement = (
        f"SELECT {column}, originator_id, originator_version, topic, state FROM {events_table(app)} WHERE {column} > ?"
    )
    params: list[Any] = [after]
    if upto is not None:
        statement += f" AND {column} <= ?"
        params.append(upto)
    rows = tx.tuples(statement + f" ORDER BY {column} LIMIT ?", (*params, limit))
    decode = decoder_of(app).event
    ids: dict[Any, Any] = {}
    out = []
    for position, originator_id, version, topic, state in rows:
        key = ids.get(originator_id)
        if key is None:  # SQLite stores the hex text
            key = ids[originator_id] = uuid.UUID(originator_id) if type(originator_id) is str else originator_id
        event = decode(key, version, topic, state if type(state) is bytes else bytes(state))
        out.append(Recorded(position, event, event.timestamp))
    return out


def position_of(tx: Tx, app: Any, tenant_id: str, version: int) -> int | None:
    """The global position of the tenant's event at `version` (R-X3: a recovered command answers its position)."""
    key: Any = tenant_uuid(tenant_id)
    if tx.kind == "sqlite":
        key = key.hex
    return tx.scalar(
        f"SELECT {_position_column(tx)} AS position FROM {events_table(app)}"
        " WHERE originator_id = ? AND originator_version = ?",
        (key, version),
    )


_EVENT_COLUMNS = frozenset({"originator_id", "originator_version", "topic", "state"})


def table_columns(tx: Tx) -> dict[str, set[str]]:
    """Every table of the current schema with its column names."""
    if tx.kind == "postgresql":
        rows = tx.all(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        out: dict[str, set[str]] = {}
        for row in rows:
            out.setdefault(row["table_name"], set()).add(row["column_name"])
        return out
    names = [r["name"] for r in tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {name: {r["name"] for r in tx.all(f"PRAGMA table_info({name})")} for name in names}


def event_store_tables(tx: Tx) -> list[str]:
    """eventsourcing's stored-events and snapshots tables, recognised by their shape (never its tracking table)."""
    return sorted(
        name
        for name, columns in table_columns(tx).items()
        if columns >= _EVENT_COLUMNS and columns <= _EVENT_COLUMNS | {"notification_id"}
    )
