"""The directory projection's writes for one batch: SQL with the batch's table suffix (`{s}`).

Role intervals and tokens opened in the batch are kept in memory (closed or revoked there when the batch does it)
and inserted together at its end (COPY on PostgreSQL): one statement each was a third of a rebuild's statements
(issue 17). Only rows stored before the batch are changed by UPDATE. Nothing reads these tables during a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from projections.batch import BatchSql, insert_rows
from projections.db import Tx
from projections.directory.assignments import AssignmentIntervals
from projections.values import day, ts


def first_unpaid(period_end: Any, occurred_at: datetime) -> str:
    """The start of the first month not yet charged for an add-on whose last charge ran to `period_end`."""
    return ts(datetime(period_end.year, period_end.month, 1, tzinfo=occurred_at.tzinfo))


ROLE_COLUMNS = ("tenant_id", "user_id", "role", "valid_from", "valid_to", "from_position", "to_position")
TOKEN_COLUMNS = (
    "token_hash",
    "tenant_id",
    "user_id",
    "token_id",
    "label",
    "active",
    "issued_at",
    "issued_position",
    "revoked_at",
)


class Writer:
    """The directory's statements for one batch (`{s}` is the batch's table suffix)."""

    def __init__(self, batch: BatchSql) -> None:
        self.run = batch.run
        self.many = batch.many
        self.all = batch.all  # reads: only for moves in a tree (see projections.directory.trees)
        self.assignments = AssignmentIntervals()  # written at the end of the batch (`flush`)
        self.role_rows: list[list[Any]] = []
        self.open_roles: dict[tuple[str, str], list[list[Any]]] = {}  # (tenant, user) -> this batch's open rows
        self.token_rows: list[list[Any]] = []
        self.tokens: dict[tuple[str, str], list[list[Any]]] = {}  # (tenant, token id) -> this batch's rows

    def tenant(self, tenant_id: str, assignments: str, params: Sequence[Any]) -> None:
        self.run(f"UPDATE dir_tenants{{s}} SET {assignments} WHERE tenant_id = ?", (*params, tenant_id))

    def open_role(self, e: Any, user_id: str, role: str, position: int) -> None:
        row = [e.tenant_id, user_id, role, ts(e.occurred_at), None, position, None]
        self.role_rows.append(row)
        self.open_roles.setdefault((e.tenant_id, user_id), []).append(row)

    def close_role(self, e: Any, user_id: str, position: int) -> None:
        opened = self.open_roles.pop((e.tenant_id, user_id), None)
        if opened:  # opened in this batch (the member's one open interval: none is stored open beside it)
            for row in opened:
                row[4], row[6] = ts(e.occurred_at), position
            return
        self.run(
            "UPDATE dir_roles{s} SET valid_to = ?, to_position = ? "
            "WHERE tenant_id = ? AND user_id = ? AND valid_to IS NULL",
            (ts(e.occurred_at), position, e.tenant_id, user_id),
        )

    def add_member(self, e: Any, position: int, user_id: str, info: dict[str, Any]) -> None:
        self.run(
            "INSERT INTO dir_members{s} (tenant_id, user_id, joined_position, email, name, role, seat_order, "
            "reports_to, status, joined_at, via, invitation_id, removed_at, removed_position, removal_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'active', ?, ?, ?, NULL, NULL, NULL)",
            (
                e.tenant_id,
                user_id,
                position,
                info["email"],
                info["name"],
                info["role"],
                info["seat_order"],
                ts(e.occurred_at),
                info["via"],
                info.get("invitation_id"),
            ),
        )
        self.open_role(e, user_id, info["role"], position)

    def add_token(self, e: Any, position: int, token_id: str, user_id: str, label: Any, token_hash: str) -> None:
        row = [token_hash, e.tenant_id, user_id, token_id, label, 1, ts(e.occurred_at), position, None]
        self.token_rows.append(row)
        self.tokens.setdefault((e.tenant_id, token_id), []).append(row)

    def revoke_token(self, e: Any) -> None:
        issued = self.tokens.get((e.tenant_id, e.token_id))
        if issued:
            for row in issued:
                row[5], row[8] = 0, ts(e.occurred_at)
            return
        self.run(
            "UPDATE dir_tokens{s} SET active = 0, revoked_at = ? WHERE tenant_id = ? AND token_id = ?",
            (ts(e.occurred_at), e.tenant_id, e.token_id),
        )

    def flush(self, tx: Tx, suffix: str) -> None:
        """Insert the batch's role intervals and tokens, then its assignment intervals (after the pipeline)."""
        insert_rows(tx, "dir_roles" + suffix, ROLE_COLUMNS, self.role_rows)
        insert_rows(tx, "dir_tokens" + suffix, TOKEN_COLUMNS, self.token_rows)
        self.assignments.flush(tx, suffix)

    def invitation(self, e: Any, assignments: str, params: Sequence[Any]) -> None:
        self.run(
            f"UPDATE dir_invitations{{s}} SET {assignments} WHERE tenant_id = ? AND invitation_id = ?",
            (*params, e.tenant_id, e.invitation_id),
        )

    def addon(self, e: Any, assignments: str, params: Sequence[Any]) -> None:
        self.run(
            f"UPDATE dir_addons{{s}} SET {assignments} WHERE tenant_id = ? AND addon_id = ?",
            (*params, e.tenant_id, e.addon_id),
        )

    def charge(self, e: Any, position: int, kind: str, amount: str) -> None:
        self.run(
            "INSERT INTO dir_charges{s} (tenant_id, charge_id, addon_id, kind, period_start, period_end, amount, "
            "currency, charged_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                e.tenant_id,
                e.charge_id,
                e.addon_id,
                kind,
                day(e.period_start),
                day(e.period_end),
                amount,
                e.currency,
                ts(e.occurred_at),
                position,
            ),
        )

    def end_grant(self, e: Any, status: str, reason: str | None) -> None:
        self.run(
            "UPDATE dir_grants{s} SET status = ?, ended_at = ?, end_reason = ? WHERE tenant_id = ? AND grant_id = ?",
            (status, ts(e.occurred_at), reason, e.tenant_id, e.grant_id),
        )

    def close_assignment(self, e: Any, position: int, resource_type: str, resource_ids: list[str], reason: str):
        self.assignments.close(e.tenant_id, resource_type, resource_ids, ts(e.occurred_at), position, reason)

    def open_assignment(self, e: Any, position: int, resource_type: str, resource_ids: list[str], user_id: str):
        self.assignments.open(e.tenant_id, resource_type, resource_ids, user_id, ts(e.occurred_at), position)
