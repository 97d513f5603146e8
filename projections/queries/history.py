"""Questions about change over time (R-R2): who gained or lost what between two instants, and which events
gave or took one member's access to one permission.

Restrictions (R-P8) count in both: a restriction at scope `all` takes every key of its permission away (the diff
says `lost` by `RestrictionAdded`, and `gained` again by `RestrictionLifted`); a narrower one is a change of its
own, with the restriction's scope and resource, while the member holds the permission at all.
"""

from __future__ import annotations

from typing import Any

from projections.history.rows import RESTRICTION
from projections.queries.access import assignment_at, closed_at, closing, lineage_at, managers_at
from projections.values import iso

_ROW_COLUMNS = (
    "user_id, permission, scope, resource_type, resource_id, valid_from, valid_to, from_position, to_position, "
    "from_event, to_event, expires_at, source_kind"
)
Key = tuple[str, str, str, str | None, str | None]


def _rows_at(tx: Any, tenant: dict[str, Any], at: str) -> list[dict[str, Any]]:
    if closed_at(tenant, at):
        return []
    return tx.all(
        f"SELECT {_ROW_COLUMNS} FROM permission_history WHERE tenant_id = ? AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?) AND (expires_at IS NULL OR expires_at > ?)",
        (tenant["tenant_id"], at, at, at),
    )


def _key(row: dict[str, Any]) -> tuple[str, str, str, str | None, str | None]:
    return (row["user_id"], row["permission"], row["scope"], row["resource_type"], row["resource_id"])


def _end(row: dict[str, Any]) -> str | None:
    ends = [t for t in (row["valid_to"], row["expires_at"]) if t is not None]
    return min(ends) if ends else None


def _change(key: tuple, change: str, at: str | None, position: int | None, event_type: str) -> dict[str, Any]:
    user_id, permission, scope, resource_type, resource_id = key
    return {
        "user_id": user_id,
        "permission": permission,
        "scope": scope,
        "resource": None if resource_type is None else {"type": resource_type, "id": resource_id},
        "change": change,
        "at": iso(at),
        "position": position,
        "event_type": event_type,
    }


class _Effect:
    """What was in effect at one instant: held keys (not withdrawn everywhere), narrower restrictions of held
    permissions, and the restrictions at scope `all` by (user, permission)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        giving: dict[Key, list[dict[str, Any]]] = {}
        narrower: dict[Key, list[dict[str, Any]]] = {}
        self.everywhere: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            if row["source_kind"] != RESTRICTION:
                giving.setdefault(_key(row), []).append(row)
            elif row["scope"] == "all":
                self.everywhere.setdefault((row["user_id"], row["permission"]), []).append(row)
            else:
                narrower.setdefault(_key(row), []).append(row)
        self.held = {k: v for k, v in giving.items() if (k[0], k[1]) not in self.everywhere}
        holding = {(k[0], k[1]) for k in self.held}
        self.restricted = {k: v for k, v in narrower.items() if (k[0], k[1]) in holding}


def _opened(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return max(rows, key=lambda r: (r["valid_from"], r["from_position"]))


def diff(tx: Any, tenant: dict[str, Any], start: str, end: str) -> list[dict[str, Any]]:
    """Every (member, permission, scope, resource) held at one instant and not the other, with the event that
    made the difference: `gained` by the row that opened it, `lost` by the last source to end (R-R2)."""
    before, after = _Effect(_rows_at(tx, tenant, start)), _Effect(_rows_at(tx, tenant, end))
    changes = []
    for key in after.held.keys() - before.held.keys():
        row = _opened(after.held[key])
        lifted = before.everywhere.get((key[0], key[1]))
        if row["valid_from"] <= start and lifted:
            # Held all along: what changed is that the restriction withdrawing it everywhere was lifted.
            gone = max(lifted, key=lambda r: (r["valid_to"] or "~", r["from_position"]))
            changes.append(_change(key, "gained", gone["valid_to"], gone["to_position"], gone["to_event"]))
        else:
            changes.append(_change(key, "gained", row["valid_from"], row["from_position"], row["from_event"]))
    closes_at, closed_position = closing(tenant)
    for key in before.held.keys() - after.held.keys():
        row = max(before.held[key], key=lambda r: (_end(r) or "~", r["from_position"]))
        row_end = _end(row)
        if row_end is None or row_end > end:
            withdrawn = after.everywhere.get((key[0], key[1]))
            if withdrawn and not closed_at(tenant, end):
                added = _opened(withdrawn)
                changes.append(_change(key, "lost", added["valid_from"], added["from_position"], added["from_event"]))
            else:
                # Still held by its rows at `end`: only the tenant's closing took it (R-T5).
                changes.append(_change(key, "lost", closes_at, closed_position, "SubscriptionEnded"))
        elif row["valid_to"] is not None and row["valid_to"] == row_end:
            changes.append(_change(key, "lost", row_end, row["to_position"], row["to_event"]))
        else:
            # The grant's expiry passed and `GrantExpired` is not recorded yet.
            changes.append(_change(key, "lost", row_end, None, "GrantExpired"))
    for key in after.restricted.keys() - before.restricted.keys():
        row = _opened(after.restricted[key])
        if row["valid_from"] > start:
            changes.append(_change(key, "lost", row["valid_from"], row["from_position"], row["from_event"]))
    for key in before.restricted.keys() - after.restricted.keys():
        row = max(before.restricted[key], key=lambda r: (r["valid_to"] or "~", r["from_position"]))
        if row["valid_to"] is not None and row["valid_to"] <= end:
            changes.append(_change(key, "gained", row["valid_to"], row["to_position"], row["to_event"]))
    changes.sort(key=lambda c: (c["at"] or "", c["position"] or 0, c["user_id"], c["permission"], c["change"]))
    return changes


def explaining_positions(
    tx: Any,
    tenant: dict[str, Any],
    user_id: str,
    permission: str,
    resource: tuple[str, str] | None,
    at: str,
) -> list[int]:
    """The events that gave or took the access a check at `at` reports: the rows valid then (or the last one that
    ended), the membership, the tenant's closing and the resource's assignment."""
    tenant_id = tenant["tenant_id"]
    positions: set[int] = set()
    closes_at, closed_position = closing(tenant)
    if closes_at is not None and closes_at <= at:
        positions.update(p for p in (closed_position, tenant["cancel_position"]) if p is not None)
    rows = tx.all(
        "SELECT scope, valid_from, valid_to, expires_at, from_position, to_position FROM permission_history "
        "WHERE tenant_id = ? AND user_id = ? AND permission = ? AND valid_from <= ? ORDER BY from_position",
        (tenant_id, user_id, permission, at),
    )
    live = [r for r in rows if (_end(r) is None or _end(r) > at)]
    if live:
        positions.update(r["from_position"] for r in live)
    elif rows:
        last = max(rows, key=lambda r: (_end(r) or "", r["from_position"]))
        positions.add(last["from_position"])
        if last["to_position"] is not None and last["valid_to"] <= at:
            positions.add(last["to_position"])
    membership = tx.one(
        "SELECT joined_position, removed_position, removed_at FROM dir_members WHERE tenant_id = ? AND user_id = ? "
        "AND joined_at <= ? ORDER BY joined_position DESC LIMIT 1",
        (tenant_id, user_id, at),
    )
    if membership is not None:
        positions.add(membership["joined_position"])
        if membership["removed_at"] is not None and membership["removed_at"] <= at:
            positions.add(membership["removed_position"])
    if resource is not None:
        current = assignment_at(tx, tenant_id, resource, at)
        scopes = {r["scope"] for r in live}
        if "resource" in scopes:
            # Where the resource sat in the tree then (R-H2): the move that put it below a granted resource.
            place = lineage_at(tx, tenant_id, resource, at)
            if place is not None:
                positions.add(place["from_position"])
        if "team" in scopes and current is not None and current["user_id"] != user_id:
            # The reporting line that put the assignee below the member (R-H1).
            line = managers_at(tx, tenant_id, current["user_id"], at)
            if line is not None:
                positions.add(line["from_position"])
        if current is not None:
            positions.add(current["from_position"])
        else:
            ended = tx.one(
                "SELECT to_position FROM dir_assignments WHERE tenant_id = ? AND resource_type = ? "
                "AND resource_id = ? AND unassigned_at <= ? ORDER BY unassigned_at DESC, to_position DESC LIMIT 1",
                (tenant_id, resource[0], resource[1], at),
            )
            if ended is not None:
                positions.add(ended["to_position"])
    return sorted(positions)
