"""The permission history's table and the rows one batch opens and closes (see `projections.history.projection`
for what the rows mean). New rows are kept in memory and inserted together; stored ones are closed by UPDATE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.tenant import events as ev
from domain.tenant import structure_events as se
from projections.batch import BatchSql
from projections.eventstore import Recorded
from projections.history.roles import SCHEMA as ROLE_SCHEMA
from projections.history.roles import RoleState
from projections.values import ts

TABLE = "permission_history"
# Every kind of row, each read on its own by as-of checks.
SOURCE_KINDS = ("role", "grant", "role_grant", "restriction")
NON_OVERLAPPING = frozenset({"role"})  # a member holds one role at a time
RESTRICTION = "restriction"  # the one kind that withdraws instead of giving
GRANT_KINDS = ("grant", "role_grant")

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
            # The change feed reads the rows each event opened and closed (projections.changes).
            "opened": ("tenant_id, from_position", None),
            "closed": ("tenant_id, to_position", "to_position IS NOT NULL"),
            # Lookups of subjects (R-C4): who holds a permission at an instant at scope `all`, or on one resource.
            "holders_open": ("tenant_id, permission, scope, resource_type, resource_id", "valid_to IS NULL"),
            "holders_closed": ("tenant_id, permission, scope, valid_to", "valid_to IS NOT NULL"),
            # The change feed finds the grants on a moved resource's old and new ancestors (R-H2, R-C5).
            "resource": ("tenant_id, resource_type, resource_id, from_position", "resource_type IS NOT NULL"),
        },
    ),
    **ROLE_SCHEMA,
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


# Events that open rows of kinds that may overlap, for whose members `open_since` needs the stored open rows.
_OPENING = (ev.PermissionGranted, se.RestrictionAdded)


class HistoryRows:
    """A batch's rows: new ones are kept in memory (closed there too when the batch closes them) and inserted
    together at the end; closing rows stored before the batch is an UPDATE, sent pipelined."""

    def __init__(self, sql: BatchSql) -> None:
        self.sql = sql
        self.pending: list[list[Any]] = []
        self.open_rows: dict[tuple[str, str], list[list[Any]]] = {}  # (tenant, user) → new rows still open
        # (tenant, user) → {(kind, permission, source): valid_from} of stored open rows of overlapping kinds
        self.stored: dict[tuple[str, str], dict[tuple[str, str, str], str]] = {}
        self.roles = RoleState(sql)

    def event(self, recorded: Recorded) -> None:
        self.position = recorded.position
        self.event_type = recorded.event_type
        self.at = ts(recorded.event.occurred_at)

    def preload(self, batch: Sequence[Recorded]) -> None:
        """The stored open rows of every member granted or restricted in the batch, in a few reads."""
        users: dict[str, set[str]] = {}
        for recorded in batch:
            if isinstance(recorded.event, _OPENING):
                users.setdefault(recorded.event.tenant_id, set()).add(recorded.event.user_id)
        for tenant_id, members in users.items():
            ordered = sorted(members)
            for start in range(0, len(ordered), 500):
                self._load(tenant_id, ordered[start : start + 500])

    def _load(self, tenant_id: str, users: list[str]) -> None:
        for user_id in users:
            self.stored[(tenant_id, user_id)] = {}
        marks = ", ".join("?" for _ in users)
        for row in self.sql.all(
            "SELECT user_id, source_kind, permission, source_id, valid_from FROM permission_history{s} "
            f"WHERE tenant_id = ? AND source_kind <> 'role' AND valid_to IS NULL AND user_id IN ({marks})",
            (tenant_id, *users),
        ):
            stored = self.stored[(tenant_id, row["user_id"])]
            stored[(row["source_kind"], row["permission"], row["source_id"])] = row["valid_from"]

    def open(
        self,
        e: Any,
        user_id: str,
        held: dict[str, str],
        kind: str,
        source_id: str,
        resource: dict[str, str] | None = None,
        expires_at: str | None = None,
        starts_at: str | None = None,
    ) -> None:
        """Open rows from now, or from `starts_at` when that is later (a scheduled grant, R-G3). `open_since` stays
        at most now: every row opened later starts at or after now, so the as-of seek still finds them all."""
        resource = resource or {}
        key = (e.tenant_id, user_id)
        still_open = self.open_rows.setdefault(key, [])
        valid_from = starts_at if starts_at is not None and starts_at > self.at else self.at
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
                valid_from,
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
        if key not in self.stored:
            self._load(key[0], [key[1]])  # rare: a redefinition reaching a role grant
        for (stored_kind, stored_permission, _), valid_from in self.stored[key].items():
            if stored_kind == kind and stored_permission == permission and valid_from < since:
                since = valid_from
        return since

    def reopen(
        self, e: Any, user_id: str, kinds: tuple[str, ...], source_id: str
    ) -> list[tuple[str, dict[str, str], dict[str, str] | None, str | None]]:
        """Close the source's open rows and say what they held: (kind, permission → scope, resource, expires_at)."""
        found: dict[tuple[str, Any, Any, Any], dict[str, str]] = {}
        marks = ", ".join("?" for _ in kinds)
        stored = self.sql.all(
            "SELECT source_kind, permission, scope, resource_type, resource_id, expires_at FROM permission_history{s} "
            f"WHERE tenant_id = ? AND user_id = ? AND source_kind IN ({marks}) AND source_id = ? AND valid_to IS NULL",
            (e.tenant_id, user_id, *kinds, source_id),
        )
        pending = [
            dict(zip(COLUMNS, row, strict=True))
            for row in self.open_rows.get((e.tenant_id, user_id), ())
            if row[_KIND] in kinds and row[_SOURCE] == source_id
        ]
        for row in [*stored, *pending]:
            key = (row["source_kind"], row["resource_type"], row["resource_id"], row["expires_at"])
            found.setdefault(key, {})[row["permission"]] = row["scope"]
        self.close(e, user_id, kinds=kinds, source_id=source_id)
        out = []
        for (kind, resource_type, resource_id, expires_at), held in sorted(found.items(), key=lambda i: str(i[0])):
            resource = None if resource_type is None else {"type": resource_type, "id": resource_id}
            out.append((kind, held, resource, expires_at))
        return out

    def close(
        self,
        e: Any,
        user_id: str,
        kinds: tuple[str, ...] | None = None,
        source_id: str | None = None,
        permissions: Sequence[str] | None = None,
    ) -> None:
        """Close the member's open rows (of some kinds, one source, some permissions): stored ones by UPDATE, new
        ones here."""
        if permissions is not None and not permissions:
            return
        where, params = "user_id = ?", [e.tenant_id, user_id]
        if kinds is not None:
            where += f" AND source_kind IN ({', '.join('?' for _ in kinds)})"
            params += kinds
        if source_id is not None:
            where += " AND source_id = ?"
            params.append(source_id)
        if permissions is not None:
            where += f" AND permission IN ({', '.join('?' for _ in permissions)})"
            params += permissions
        self.sql.run(
            "UPDATE permission_history{s} SET valid_to = ?, to_position = ?, to_event = ? "
            f"WHERE tenant_id = ? AND {where} AND valid_to IS NULL",
            (self.at, self.position, self.event_type, *params),
        )

        def closing(kind: str, permission: str, source: str) -> bool:
            return (
                (kinds is None or kind in kinds)
                and (source_id is None or source == source_id)
                and (permissions is None or permission in permissions)
            )

        key = (e.tenant_id, user_id)
        kept = []
        for row in self.open_rows.get(key, ()):
            if closing(row[_KIND], row[_PERMISSION], row[_SOURCE]):
                row[_TO], row[_TO_POSITION], row[_TO_EVENT] = self.at, self.position, self.event_type
            else:
                kept.append(row)
        self.open_rows[key] = kept
        stored = self.stored.get(key)
        if stored:
            for stored_key in [k for k in stored if closing(*k)]:
                del stored[stored_key]
