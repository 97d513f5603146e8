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


def record(sql: BatchSql, recorded: Recorded) -> None:
    """Remember the resources `recorded` names, the first time each is named."""
    resources = named(recorded.event)
    if resources:
        e = recorded.event
        sql.many(
            f"INSERT INTO {TABLE}{{s}} (tenant_id, resource_type, resource_id, known_at, known_position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(e.tenant_id, t, i, ts(e.occurred_at), recorded.position) for t, i in resources],
        )
