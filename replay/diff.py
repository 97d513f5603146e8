"""Who gained or lost which permission, at which scope, between two instants, and by which event (R-R2)."""

from __future__ import annotations

from typing import Any

from replay.timeline import resource_text


def change_row(change: dict[str, Any]) -> list[str]:
    """at, change, user, permission, scope, resource (TYPE:ID or -), event (type and global position)."""
    position = change.get("position")
    event = change["event_type"] + (f" @{position}" if position is not None else " (not recorded yet)")
    return [
        change.get("at") or "-",
        change["change"],
        change["user_id"],
        change["permission"],
        change["scope"],
        resource_text(change.get("resource")) or "-",
        event,
    ]


def totals(changes: list[dict[str, Any]]) -> dict[str, int]:
    """How many permissions were gained and lost, and by how many members."""
    return {
        "gained": sum(1 for c in changes if c["change"] == "gained"),
        "lost": sum(1 for c in changes if c["change"] == "lost"),
        "members": len({c["user_id"] for c in changes}),
    }
