"""Assignment intervals of one directory batch, written together at its end (R-A1 history for `assigned`/`team`).

Most events of a busy tenant are (re)assignments, one or a few leads each. Writing each as its own UPDATE and
INSERT cost two statements an event; here an interval opened and closed within the batch is written once, complete,
and only intervals stored before the batch are closed by UPDATE (one per resource at most), in one `executemany` and
one COPY (PostgreSQL) at the end of the batch.
"""

from __future__ import annotations

from typing import Any

from projections.batch import insert_rows
from projections.db import Tx

Key = tuple[str, str, str]  # tenant, resource type, resource id

_CLOSE = (
    "UPDATE dir_assignments{s} SET unassigned_at = ?, to_position = ?, unassign_reason = ? "
    "WHERE tenant_id = ? AND resource_type = ? AND resource_id = ? AND unassigned_at IS NULL"
)
# PostgreSQL: every close of the batch in one statement (one round trip), the values as arrays.
_CLOSE_MANY = (
    "UPDATE dir_assignments{s} AS d SET unassigned_at = v.at, to_position = v.pos, unassign_reason = v.reason "
    "FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[]) "
    "AS v(at, pos, reason, tenant_id, resource_type, resource_id) WHERE d.tenant_id = v.tenant_id "
    "AND d.resource_type = v.resource_type AND d.resource_id = v.resource_id AND d.unassigned_at IS NULL"
)
COLUMNS = (
    "tenant_id",
    "resource_type",
    "resource_id",
    "user_id",
    "assigned_at",
    "unassigned_at",
    "from_position",
    "to_position",
    "unassign_reason",
)


class AssignmentIntervals:
    """The batch's opened intervals (in memory until `flush`) and its closes of stored ones."""

    def __init__(self) -> None:
        self._open: dict[Key, list[Any]] = {}
        self._done: list[list[Any]] = []
        self._closes: list[tuple[Any, ...]] = []

    def open(self, tenant_id: str, resource_type: str, resource_ids: list[str], user_id: str, at: str, position: int):
        for resource_id in resource_ids:
            key = (tenant_id, resource_type, resource_id)
            self._open[key] = [tenant_id, resource_type, resource_id, user_id, at, None, position, None, None]

    def close(
        self, tenant_id: str, resource_type: str, resource_ids: list[str], at: str, position: int, reason: str
    ) -> None:
        for resource_id in resource_ids:
            row = self._open.pop((tenant_id, resource_type, resource_id), None)
            if row is None:
                self._closes.append((at, position, reason, tenant_id, resource_type, resource_id))
            else:
                row[5], row[7], row[8] = at, position, reason
                self._done.append(row)

    def flush(self, tx: Tx, suffix: str) -> None:
        """Close the stored intervals, then insert this batch's (COPY on PostgreSQL): after the batch's pipeline,
        before anything reads the table."""
        if self._closes and tx.kind == "postgresql":
            tx.execute(_CLOSE_MANY.replace("{s}", suffix), [list(column) for column in zip(*self._closes, strict=True)])
        elif self._closes:
            tx.executemany(_CLOSE.replace("{s}", suffix), self._closes)
        rows = sorted([*self._done, *self._open.values()], key=lambda row: row[6])
        insert_rows(tx, "dir_assignments" + suffix, COLUMNS, rows)
        self._open.clear()
        self._done.clear()
        self._closes.clear()
