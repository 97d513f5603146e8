"""Reading the change feed (R-C5): the entries after a position (and index), optionally of one member or permission,
whole events at a time, through the table's primary key (tenant, position, index)."""

from __future__ import annotations

from typing import Any

from projections.changes.projection import TABLE
from projections.values import iso


def change_dict(row: dict[str, Any]) -> dict[str, Any]:
    """API.md's `Change`."""
    resource = None if row["resource_type"] is None else {"type": row["resource_type"], "id": row["resource_id"]}
    return {
        "position": row["position"],
        "index": row["idx"],
        "occurred_at": iso(row["occurred_at"]),
        "event_type": row["event_type"],
        "user_id": row["user_id"],
        "permission": row["permission"],
        "scope": row["scope"],
        "resource": resource,
        "effect": row["effect"],
    }


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
    sql = f"SELECT * FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY position, idx"
    rows = tx.all(f"{sql} LIMIT ?", (*params, limit))
    if len(rows) == limit:
        last = rows[-1]
        rows += tx.all(
            f"SELECT * FROM {TABLE} WHERE {' AND '.join(where)} AND position = ? AND idx > ? ORDER BY idx",
            (*params, last["position"], last["idx"]),
        )
    return [change_dict(row) for row in rows]
