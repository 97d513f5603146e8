"""The permission history: for each member, permission, scope and resource, the intervals it was held and why.

One row per (member, permission, source) interval: `source_kind` is `role` (source_id = role id) or `grant`
(source_id = grant id); later kinds (`role_grant`, restrictions, custom-role redefinitions) add rows of their own
without changing the others. The positions and event types that opened and closed a row explain it (explain, diff).
A grant's `expires_at` ends its row from that instant even before `GrantExpired` is recorded; the tenant's
closing is a tenant-level window in the directory (R-T5), so rows stay as they were when it closed.

Checks are answered from memory (`projections.access_cache`); the SQL interval queries (explain, and members too
long to hold) stay as fast at any history depth too: `open_since` is the earliest `valid_from` among the rows of the
same member, permission and source kind still open when the row was opened (itself included). Every row valid at
an instant T then starts at or after the `open_since` of the latest row opened by T, so an as-of check reads
one index seek plus the rows since then, not the whole history (see `projections.queries_access.holdings_at`).
A role row's `open_since` is its own `valid_from`: a member holds one role at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from domain.permissions import expand_grant, role_permissions
from projections.db import Tx
from projections.directory_schema import BatchSql, batch_sql, create_tables, insert_rows
from projections.runner import Recorded
from projections.values import ts

TABLE = "permission_history"
# Every kind of row, each read on its own by as-of checks; a new kind (role grants, team) is added here.
SOURCE_KINDS = ("role", "grant")
NON_OVERLAPPING = frozenset({"role"})  # a member holds one role at a time

SCHEMA = {
    TABLE: (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, permission TEXT NOT NULL, scope TEXT NOT NULL,
        resource_type TEXT, resource_id TEXT, source_kind TEXT NOT NULL, source_id TEXT NOT NULL,
        valid_from TEXT NOT NULL, valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT,
        from_event TEXT NOT NULL, to_event TEXT, expires_at TEXT, open_since TEXT NOT NULL""",
        # What an as-of check seeks: (tenant, user, permission, source kind, valid_from).
        "tenant_id, user_id, permission, source_kind, valid_from, source_id, from_position",
        {
            "user_open": ("tenant_id, user_id", "valid_to IS NULL"),
            "source_open": ("tenant_id, source_kind, source_id", "valid_to IS NULL"),
        },
    )
}

COLUMNS = (
    "tenant_id",
    "user_id",
    "permission",
    "scope",
    "resource_type",
    "resource_id",
    "source_kind",
    "source_id",
    "valid_from",
    "valid_to",
    "from_position",
    "to_position",
    "from_event",
    "to_event",
    "expires_at",
    "open_since",
)
_PERMISSION, _KIND, _SOURCE, _FROM, _TO, _TO_POSITION, _TO_EVENT = 2, 6, 7, 8, 9, 11, 13


def role_holdings(role: str) -> dict[str, str]:
    """What a role gives, permission → scope (built-in roles today; custom roles will be looked up per tenant)."""
    return role_permissions(role)


class HistoryProjection:
    """Writes `permission_history` rows as roles, grants and memberships change."""

    name = "history"
    tables = (TABLE,)

    def create(self, tx: Tx, suffix: str = "") -> None:
        create_tables(tx, SCHEMA, suffix)

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        with batch_sql(tx, suffix) as sql:
            rows = _Rows(sql)
            rows.preload(batch)
            for recorded in batch:
                handler = HANDLERS.get(recorded.event_type)
                if handler is not None:
                    rows.event(recorded)
                    handler(rows, recorded.event)
        insert_rows(tx, TABLE + suffix, COLUMNS, rows.pending)


class _Rows:
    """A batch's rows: new ones are kept in memory (closed there too when the batch closes them) and inserted
    together at the end; closing rows stored before the batch is an UPDATE, sent pipelined."""

    def __init__(self, sql: BatchSql) -> None:
        self.sql = sql
        self.pending: list[list[Any]] = []
        self.open_rows: dict[tuple[str, str], list[list[Any]]] = {}  # (tenant, user) → new rows still open
        self.stored_grants: dict[tuple[str, str], dict[tuple[str, str], str]] = {}  # → {(perm, grant): from}

    def event(self, recorded: Recorded) -> None:
        self.position = recorded.position
        self.event_type = recorded.event_type
        self.at = ts(recorded.event.occurred_at)

    def preload(self, batch: Sequence[Recorded]) -> None:
        """The stored open grant rows of every member granted something in the batch (for `open_since`)."""
        users: dict[str, set[str]] = {}
        for recorded in batch:
            if recorded.event_type == "PermissionGranted":
                users.setdefault(recorded.event.tenant_id, set()).add(recorded.event.user_id)
        for tenant_id, members in users.items():
            ordered = sorted(members)
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                for key in chunk:
                    self.stored_grants[(tenant_id, key)] = {}
                marks = ", ".join("?" for _ in chunk)
                for row in self.sql.all(
                    "SELECT user_id, permission, source_id, valid_from FROM permission_history{s} "
                    f"WHERE tenant_id = ? AND source_kind = 'grant' AND valid_to IS NULL AND user_id IN ({marks})",
                    (tenant_id, *chunk),
                ):
                    grants = self.stored_grants[(tenant_id, row["user_id"])]
                    grants[(row["permission"], row["source_id"])] = row["valid_from"]

    def open(
        self,
        e: Any,
        user_id: str,
        held: dict[str, str],
        kind: str,
        source_id: str,
        resource: dict[str, str] | None = None,
        expires_at: str | None = None,
    ) -> None:
        resource = resource or {}
        key = (e.tenant_id, user_id)
        still_open = self.open_rows.setdefault(key, [])
        for permission, scope in sorted(held.items()):
            since = self.at if kind in NON_OVERLAPPING else self.open_since(key, kind, permission)
            row = [
                e.tenant_id,
                user_id,
                permission,
                scope,
                resource.get("type"),
                resource.get("id"),
                kind,
                source_id,
                self.at,
                None,
                self.position,
                None,
                self.event_type,
                None,
                expires_at,
                since,
            ]
            self.pending.append(row)
            still_open.append(row)

    def open_since(self, key: tuple[str, str], kind: str, permission: str) -> str:
        """The earliest `valid_from` of the member's open rows of this kind and permission, the new one included."""
        since = self.at
        for row in self.open_rows.get(key, ()):
            if row[_KIND] == kind and row[_PERMISSION] == permission and row[_FROM] < since:
                since = row[_FROM]
        for (stored_permission, _), valid_from in self.stored_grants.get(key, {}).items():
            if stored_permission == permission and valid_from < since:
                since = valid_from
        return since

    def close(self, e: Any, user_id: str, kind: str | None = None, source_id: str | None = None) -> None:
        """Close the member's open rows (of one kind, or of one source): stored ones by UPDATE, new ones here."""
        where, params = "user_id = ?", [e.tenant_id, user_id]
        if kind is not None:
            where += " AND source_kind = ?"
            params.append(kind)
        if source_id is not None:
            where += " AND source_id = ?"
            params.append(source_id)
        self.sql.run(
            "UPDATE permission_history{s} SET valid_to = ?, to_position = ?, to_event = ? "
            f"WHERE tenant_id = ? AND {where} AND valid_to IS NULL",
            (self.at, self.position, self.event_type, *params),
        )
        key = (e.tenant_id, user_id)
        kept = []
        for row in self.open_rows.get(key, ()):
            if (kind is None or row[_KIND] == kind) and (source_id is None or row[_SOURCE] == source_id):
                row[_TO], row[_TO_POSITION], row[_TO_EVENT] = self.at, self.position, self.event_type
            else:
                kept.append(row)
        self.open_rows[key] = kept
        grants = self.stored_grants.get(key)
        if grants and kind in (None, "grant"):
            for grant_key in [k for k in grants if source_id is None or k[1] == source_id]:
                del grants[grant_key]


def _tenant_opened(rows: _Rows, e: Any) -> None:
    rows.open(e, e.user_id, role_holdings("owner"), "role", "owner")


def _member_added(rows: _Rows, e: Any) -> None:
    rows.open(e, e.user_id, role_holdings(e.role), "role", e.role)


def _role_changed(rows: _Rows, e: Any) -> None:
    rows.close(e, e.user_id, kind="role")
    rows.open(e, e.user_id, role_holdings(e.new_role), "role", e.new_role)


def _member_removed(rows: _Rows, e: Any) -> None:
    # Removal revokes grants by their own events first; closing every open row keeps this true whatever comes.
    rows.close(e, e.user_id)


def _granted(rows: _Rows, e: Any) -> None:
    if e.permission is None:
        return  # role grants on resources (R-P9) will open `role_grant` rows here
    held = expand_grant(e.permission, e.scope)
    rows.open(e, e.user_id, held, "grant", e.grant_id, e.resource, ts(e.expires_at))


def _grant_ended(rows: _Rows, e: Any) -> None:
    rows.close(e, e.user_id, kind="grant", source_id=e.grant_id)


HANDLERS: dict[str, Callable[[_Rows, Any], None]] = {
    "TenantOpened": _tenant_opened,
    "MemberAdded": _member_added,
    "MemberRoleChanged": _role_changed,
    "MemberRemoved": _member_removed,
    "PermissionGranted": _granted,
    "PermissionRevoked": _grant_ended,
    "GrantExpired": _grant_ended,
}
