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
from projections.batch import batch_sql, create_tables, insert_rows
from projections.db import Tx
from projections.eventstore import Recorded
from projections.history.roles import HOLDERS, ROLES, Holder, resource_typed
from projections.history.rows import COLUMNS, GRANT_KINDS, RESTRICTION, SCHEMA, TABLE, HistoryRows
from projections.values import ts


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
            rows = HistoryRows(sql)
            rows.preload(batch)
            for recorded in batch:
                handler = HANDLERS.get(type(recorded.event))
                if handler is not None:
                    rows.event(recorded)
                    handler(rows, recorded.event)
        insert_rows(tx, TABLE + suffix, COLUMNS, rows.pending)


# ----------------------------------------------------------------------------------------- members and roles


def _tenant_opened(rows: HistoryRows, e: ev.TenantOpened) -> None:
    rows.open(e, e.user_id, role_holdings("owner"), "role", "owner")


def _member_added(rows: HistoryRows, e: ev.MemberAdded) -> None:
    rows.open(e, e.user_id, rows.roles.gives(e.tenant_id, e.role), "role", e.role)
    if not is_builtin_role(e.role):
        rows.roles.hold(e.tenant_id, Holder("member", e.user_id, e.user_id, e.role))


def _role_changed(rows: HistoryRows, e: ev.MemberRoleChanged) -> None:
    rows.close(e, e.user_id, kinds=("role",))
    rows.open(e, e.user_id, rows.roles.gives(e.tenant_id, e.new_role), "role", e.new_role)
    if not is_builtin_role(e.old_role):
        rows.roles.release(e.tenant_id, "member", e.user_id)
    if not is_builtin_role(e.new_role):
        rows.roles.hold(e.tenant_id, Holder("member", e.user_id, e.user_id, e.new_role))


def _member_removed(rows: HistoryRows, e: ev.MemberRemoved) -> None:
    # Removal revokes grants and lifts restrictions by their own events first; closing every open row keeps this
    # true whatever comes.
    rows.close(e, e.user_id)
    rows.roles.release(e.tenant_id, "member", e.user_id)


def _role_defined(rows: HistoryRows, e: se.RoleDefined) -> None:
    rows.roles.define(e.tenant_id, e.role_id, e.includes, e.permissions)


def _role_redefined(rows: HistoryRows, e: se.RoleRedefined) -> None:
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


def _role_deleted(rows: HistoryRows, e: se.RoleDeleted) -> None:
    rows.roles.delete(e.tenant_id, e.role_id)


# ----------------------------------------------------------------------------------------- grants and restrictions


def _granted(rows: HistoryRows, e: ev.PermissionGranted) -> None:
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


def _started(rows: HistoryRows, e: ev.GrantStarted) -> None:
    """R-G3: the rows a scheduled grant opened at `starts_at` become this event's own (closed and opened again)."""
    reopened = rows.reopen(e, e.user_id, GRANT_KINDS, e.grant_id)
    for kind, held, resource, expires_at in reopened:
        rows.open(e, e.user_id, held, kind, e.grant_id, resource, expires_at)


def _grant_ended(rows: HistoryRows, e: ev.PermissionRevoked | ev.GrantExpired) -> None:
    rows.close(e, e.user_id, kinds=GRANT_KINDS, source_id=e.grant_id)
    rows.roles.release(e.tenant_id, "grant", e.grant_id)


def _restricted(rows: HistoryRows, e: se.RestrictionAdded) -> None:
    """R-P8: the restricted permission and every permission implying it are withdrawn at the restriction's scope."""
    withdrawn = {permission: e.scope for permission in implying(e.permission)}
    rows.open(e, e.user_id, withdrawn, RESTRICTION, e.restriction_id, e.resource)


def _lifted(rows: HistoryRows, e: se.RestrictionLifted) -> None:
    rows.close(e, e.user_id, kinds=(RESTRICTION,), source_id=e.restriction_id)


# Keyed by event class: a renamed or removed event fails at import, not silently at run time.
HANDLERS: dict[type[TenantEvent], Callable[[HistoryRows, Any], None]] = {
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
