"""The permission history: for each member, permission, scope and resource, the intervals it was held and why.

One row per (member, permission, source) interval. `source_kind` is
- `role` (source_id = role id): what the member's role gives; a custom role's redefinition (R-P7) closes the rows
  it changes for every holder and opens the new ones from that instant, so both sides stay visible;
- `grant` (source_id = grant id): a permission grant and what it implies (R-G1, R-P5);
- `role_grant` (source_id = grant id): a role grant on a resource (R-P9), the role's resource-typed permissions at
  scope `resource` on the granted resource (which covers its descendants, R-H2);
- `restriction` (source_id = restriction id): a *withdrawal* (R-P8), one row for each permission that implies the
  restricted one, at the restriction's scope and resource. Deny overrides allow (`projections.queries.decide`).
Scope `team` is a scope like the others; what it and a resource covers at an instant comes from the directory's
closures (reporting lines, resource parents), read by the check, so moving a node changes no row here.
The positions and event types that opened and closed a row explain it (explain, diff). A grant's `expires_at` ends
its row from that instant even before `GrantExpired` is recorded; a scheduled grant (R-G3) opens its rows at once
with `valid_from` = `starts_at`, so checks honour the window before `GrantStarted` is recorded, and `GrantStarted`
closes them where they begin (empty intervals) and opens them again as its own, so explain and the change feed name
the event that started the access; the tenant's closing is a tenant-level window in
the directory (R-T5), so rows stay as they were when it closed.

Checks are answered from memory (`projections.queries.access_cache`); the SQL interval queries (explain, and members too
long to hold) stay as fast at any history depth too: `open_since` is the earliest `valid_from` among the rows of the
same member, permission and source kind still open when the row was opened (itself included). Every row valid at
an instant T then starts at or after the `open_since` of the latest row opened by T, so an as-of check reads
one index seek plus the rows since then, not the whole history (see `projections.queries.access.holdings_at`).
A role row's `open_since` is its own `valid_from`: a member holds one role at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from domain.permissions import expand_grant, implying, is_builtin_role, role_permissions
from domain.tenant import events as ev
from domain.tenant import structure_events as se
from domain.tenant.events import TenantEvent
from projections.batch import BatchSql, batch_sql, create_tables, insert_rows
from projections.db import Tx
from projections.eventstore import Recorded
from projections.history.roles import HOLDERS, ROLES, Holder, RoleState, resource_typed
from projections.history.roles import SCHEMA as ROLE_SCHEMA
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


def role_holdings(role: str) -> dict[str, str]:
    """What a built-in role gives, permission → scope (custom roles are expanded per tenant, `history_roles`)."""
    return role_permissions(role)


class HistoryProjection:
    """Writes `permission_history` rows as roles, grants, restrictions and memberships change."""

    name = "history"
    tables = (TABLE, ROLES, HOLDERS)

    def create(self, tx: Tx, suffix: str = "") -> None:
        create_tables(tx, SCHEMA, suffix)

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        with batch_sql(tx, suffix) as sql:
            rows = _Rows(sql)
            rows.preload(batch)
            for recorded in batch:
                handler = HANDLERS.get(type(recorded.event))
                if handler is not None:
                    rows.event(recorded)
                    handler(rows, recorded.event)
        insert_rows(tx, TABLE + suffix, COLUMNS, rows.pending)


# Events that open rows of kinds that may overlap, for whose members `open_since` needs the stored open rows.
_OPENING = (ev.PermissionGranted, se.RestrictionAdded)


class _Rows:
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


# ----------------------------------------------------------------------------------------- members and roles


def _tenant_opened(rows: _Rows, e: ev.TenantOpened) -> None:
    rows.open(e, e.user_id, role_holdings("owner"), "role", "owner")


def _member_added(rows: _Rows, e: ev.MemberAdded) -> None:
    rows.open(e, e.user_id, rows.roles.gives(e.tenant_id, e.role), "role", e.role)
    if not is_builtin_role(e.role):
        rows.roles.hold(e.tenant_id, Holder("member", e.user_id, e.user_id, e.role))


def _role_changed(rows: _Rows, e: ev.MemberRoleChanged) -> None:
    rows.close(e, e.user_id, kinds=("role",))
    rows.open(e, e.user_id, rows.roles.gives(e.tenant_id, e.new_role), "role", e.new_role)
    if not is_builtin_role(e.old_role):
        rows.roles.release(e.tenant_id, "member", e.user_id)
    if not is_builtin_role(e.new_role):
        rows.roles.hold(e.tenant_id, Holder("member", e.user_id, e.user_id, e.new_role))


def _member_removed(rows: _Rows, e: ev.MemberRemoved) -> None:
    # Removal revokes grants and lifts restrictions by their own events first; closing every open row keeps this
    # true whatever comes.
    rows.close(e, e.user_id)
    rows.roles.release(e.tenant_id, "member", e.user_id)


def _role_defined(rows: _Rows, e: se.RoleDefined) -> None:
    rows.roles.define(e.tenant_id, e.role_id, e.includes, e.permissions)


def _role_redefined(rows: _Rows, e: se.RoleRedefined) -> None:
    """R-P7: from this instant every holder (of the role, or of a role including it) holds what it gives now."""
    reached = rows.roles.redefine(e.tenant_id, e.role_id, e.new["includes"], e.new["permissions"])
    for holder, old, new in reached:
        changed = sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))
        given = {p: new[p] for p in changed if p in new}
        if holder.kind == "member":
            rows.close(e, holder.user_id, kinds=("role",), source_id=holder.role, permissions=changed)
            rows.open(e, holder.user_id, given, "role", holder.role)
        else:
            rows.close(e, holder.user_id, kinds=("role_grant",), source_id=holder.holder_id, permissions=changed)
            rows.open(
                e,
                holder.user_id,
                given,
                "role_grant",
                holder.holder_id,
                holder.resource,
                holder.expires_at,
                holder.starts_at,
            )


def _role_deleted(rows: _Rows, e: se.RoleDeleted) -> None:
    rows.roles.delete(e.tenant_id, e.role_id)


# ----------------------------------------------------------------------------------------- grants and restrictions


def _granted(rows: _Rows, e: ev.PermissionGranted) -> None:
    expires_at = ts(e.expires_at)
    starts_at = ts(e.starts_at)
    role = e.role
    if role is None:
        held = expand_grant(e.permission, e.scope)
        rows.open(e, e.user_id, held, "grant", e.grant_id, e.resource, expires_at, starts_at)
        return
    held = resource_typed(rows.roles.gives(e.tenant_id, role))
    rows.open(e, e.user_id, held, "role_grant", e.grant_id, e.resource, expires_at, starts_at)
    if not is_builtin_role(role):
        holder = Holder("grant", e.grant_id, e.user_id, role, e.resource, expires_at, starts_at)
        rows.roles.hold(e.tenant_id, holder)


def _started(rows: _Rows, e: ev.GrantStarted) -> None:
    """R-G3: the rows a scheduled grant opened at `starts_at` become this event's own (closed and opened again)."""
    reopened = rows.reopen(e, e.user_id, GRANT_KINDS, e.grant_id)
    for kind, held, resource, expires_at in reopened:
        rows.open(e, e.user_id, held, kind, e.grant_id, resource, expires_at)


def _grant_ended(rows: _Rows, e: ev.PermissionRevoked | ev.GrantExpired) -> None:
    rows.close(e, e.user_id, kinds=GRANT_KINDS, source_id=e.grant_id)
    rows.roles.release(e.tenant_id, "grant", e.grant_id)


def _restricted(rows: _Rows, e: se.RestrictionAdded) -> None:
    """R-P8: the restricted permission and every permission implying it are withdrawn at the restriction's scope."""
    withdrawn = {permission: e.scope for permission in implying(e.permission)}
    rows.open(e, e.user_id, withdrawn, RESTRICTION, e.restriction_id, e.resource)


def _lifted(rows: _Rows, e: se.RestrictionLifted) -> None:
    rows.close(e, e.user_id, kinds=(RESTRICTION,), source_id=e.restriction_id)


# Keyed by event class: a renamed or removed event fails at import, not silently at run time.
HANDLERS: dict[type[TenantEvent], Callable[[_Rows, Any], None]] = {
    ev.TenantOpened: _tenant_opened,
    ev.MemberAdded: _member_added,
    ev.MemberRoleChanged: _role_changed,
    ev.MemberRemoved: _member_removed,
    se.RoleDefined: _role_defined,
    se.RoleRedefined: _role_redefined,
    se.RoleDeleted: _role_deleted,
    ev.PermissionGranted: _granted,
    ev.PermissionRevoked: _grant_ended,
    ev.GrantExpired: _grant_ended,
    ev.GrantStarted: _started,
    se.RestrictionAdded: _restricted,
    se.RestrictionLifted: _lifted,
}
