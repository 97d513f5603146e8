"""Read the event store's own tables through a read-model transaction (verify and per-tenant rebuild).

eventsourcing's recorder can list the whole notification log but not one aggregate's events with their global
positions; reading its table directly gives both, in the same snapshot as the read models being compared.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import Notification

from domain.tenant.aggregate import tenant_uuid
from projections.db import Tx
from projections.runner import Recorded


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
    notification = Notification(
        id=row["position"],
        originator_id=originator_id,
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(state) if not isinstance(state, bytes) else state,
    )
    event = app.mapper.to_domain_event(notification)
    return Recorded(notification.id, event, event.timestamp)


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


def read_batch(app: Any, after: int, limit: int, upto: int | None = None) -> list[Recorded]:
    """Up to `limit` events after global position `after` through the recorder (the rebuild's fast path)."""
    notifications = app.recorder.select_notifications(start=after + 1, limit=limit, stop=upto)
    to_event = app.mapper.to_domain_event
    out = []
    for notification in notifications:
        event = to_event(notification)
        out.append(Recorded(notification.id, event, event.timestamp))
    return out
