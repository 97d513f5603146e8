"""The resources a tenant's history names (R-C4): a lookup's candidates. A resource is known from the first event
that assigned it, gave it a parent, or named it in a grant or restriction; one row each, never removed."""

from __future__ import annotations

from typing import Any

from projections.batch import BatchSql
from projections.eventstore import Recorded
from projections.values import ts

TABLE = "dir_resources"  # see projections.directory.schema

_NAMING = frozenset({"PermissionGranted", "RestrictionAdded"})


def named(event: Any) -> list[tuple[str, str]]:
    """The resources an event names (assigned, given a parent, or granted or restricted on)."""
    ids = getattr(event, "resource_ids", None)
    if ids is not None:
        return [(event.resource_type, rid) for rid in ids]
    if hasattr(event, "new_parent") and hasattr(event, "resource_id"):
        return [(event.resource_type, event.resource_id)]
    resource = getattr(event, "resource", None)
    if isinstance(resource, dict) and resource.get("type") and type(event).__name__ in _NAMING:
        return [(resource["type"], resource["id"])]
    return []


class KnownResources:
    """The resources a batch names, written once at its end: the first naming of each in the batch, and an older
    row kept by ON CONFLICT DO NOTHING. Written one statement per event, this was most of a rebuild's statements
    on a busy tenant (issue 17); PostgreSQL gets the batch as arrays in one statement."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[str, str | None, int]] = {}

    def record(self, recorded: Recorded) -> None:
        """Remember the resources `recorded` names, the first time each is named in the batch."""
        resources = named(recorded.event)
        if resources:
            e = recorded.event
            at = ts(e.occurred_at)
            for resource_type, resource_id in resources:
                self.rows.setdefault((e.tenant_id, resource_type, resource_id), (at, recorded.position))

    def flush(self, sql: BatchSql) -> None:
        if not self.rows:
            return
        rows = [(*key, at, position) for key, (at, position) in self.rows.items()]
        self.rows = {}
        if sql.tx.kind == "postgresql":
            sql.run(
                f"INSERT INTO {TABLE}{{s}} (tenant_id, resource_type, resource_id, known_at, known_position) "
                "SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[]) ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        sql.many(
            f"INSERT INTO {TABLE}{{s}} (tenant_id, resource_type, resource_id, known_at, known_position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )
