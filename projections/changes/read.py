"""Reading the change feed (R-C5): the entries after a position (and index), optionally of one member or permission,
whole events at a time, through the table's primary key (tenant, position, index)."""

from __future__ import annotations

from typing import Any

from projections.changes.projection import TABLE
from projections.values import iso

COLUMNS = "position, idx, occurred_at, event_type, user_id, permission, scope, resource_type, resource_id, effect"


def _changes(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """API.md's `Change`s from rows of COLUMNS (the hot path: no dict per row before this one, one `iso` per
    instant)."""
    out = []
    instants: dict[str, str | None] = {}
    for position, idx, occurred_at, event_type, user_id, permission, scope, rtype, rid, effect in rows:
        at = instants.get(occurred_at)
        if at is None:
            at = instants[occurred_at] = iso(occurred_at)
        out.append(
            {
                "position": position,
                "index": idx,
                "occurred_at": at,
                "event_type": event_type,
                "user_id": user_id,
                "permission": permission,
                "scope": scope,
                "resource": None if rtype is None else {"type": rtype, "id": rid},
                "effect": effect,
            }
        )
    return out


def changes_after(
    tx: Any,
    tenant_id: str,
    after: int,
    after_index: int | None,
    user_id: str | None,
    permission: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` entries after (`after`, `after_index`), plus the rest of the last event's entries, so a
    reader resuming from the last position never misses one."""
    where = ["tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if after_index is None:
        where.append("position > ?")
        params.append(after)
    else:
        where.append("(position > ? OR (position = ? AND idx > ?))")
        params += [after, after, after_index]
    if user_id is not None:
        where.append("user_id = ?")
        params.append(user_id)
    if permission is not None:
        where.append("permission = ?")
        params.append(permission)
    sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE {' AND '.join(where)}"
    rows = tx.tuples(f"{sql} ORDER BY position, idx LIMIT ?", (*params, limit))
    if len(rows) == limit:
        last = rows[-1]
        rows += tx.tuples(f"{sql} AND position = ? AND idx > ? ORDER BY idx", (*params, last[0], last[1]))
    return _changes(rows)
