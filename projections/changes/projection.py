"""The change feed as a projection (R-C5): each event's changes of effective access, stored once with the event's
position and an index, so readers page them cheaply and a rebuild writes them identically.

It runs after the directory and the permission history in each batch and reads what they wrote, by position: the
history rows an event opened or closed name the members it touched (a role redefinition reaches every holder, a
seat-loss eviction every permission lost), and for each of them the rows live just before and just after the event
give effective access both sides (`projections.changes.effective`); the difference is the event's changes.
A scheduled grant's rows (R-G3) count only from its `GrantStarted` (`dir_grants.started_position`), and a tenant's
closing (R-T5) takes everything from its `SubscriptionEnded`. A resource grant's entries are the named resource and
its descendants of the permission's type live at the event (R-H2, `projections.queries.below`), so a grant on a
container fans out to what is below it, and moving a resource (`ResourceParentSet`) touches the holders of grants
on its old and new ancestors. Replaying the feed from position 0 gives the access report as of the last event
(tests/projections/test_change_feed.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from domain.permissions import resource_type_of
from projections.batch import batch_sql, create_tables, insert_rows
from projections.changes.effective import Access, effective
from projections.db import Tx
from projections.eventstore import Recorded
from projections.queries.below import AT_POSITION, Resource, below
from projections.queries.decide import holding_of
from projections.values import ts

TABLE = "access_changes"
SCHEMA = {
    TABLE: (
        """tenant_id TEXT NOT NULL, position BIGINT NOT NULL, idx INTEGER NOT NULL, occurred_at TEXT NOT NULL,
        event_type TEXT NOT NULL, user_id TEXT NOT NULL, permission TEXT NOT NULL, scope TEXT NOT NULL,
        resource_type TEXT, resource_id TEXT, effect TEXT NOT NULL""",
        "tenant_id, position, idx",
        {"user": ("tenant_id, user_id, position", None)},
    ),
}
COLUMNS = (
    "tenant_id",
    "position",
    "idx",
    "occurred_at",
    "event_type",
    "user_id",
    "permission",
    "scope",
    "resource_type",
    "resource_id",
    "effect",
)
GRANT_KINDS = ("grant", "role_grant")
_ROW = "user_id, permission, scope, resource_type, resource_id, source_kind, source_id, from_position, to_position"
CHUNK = 500


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" for _ in items)


class ChangesProjection:
    """Writes `access_changes` from the directory's and the permission history's rows of the same events."""

    name = "changes"
    tables = (TABLE,)

    def create(self, tx: Tx, suffix: str = "") -> None:
        create_tables(tx, SCHEMA, suffix)

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        # A whole rebuild builds the history aside too: read that one; rebuilding the feed alone reads the serving.
        source = suffix if suffix and tx.has_table("permission_history" + suffix) else ""
        insert_rows(tx, TABLE + suffix, COLUMNS, self.rows(tx, batch, source))

    def rows(self, tx: Tx, batch: Sequence[Recorded], source: str) -> list[list[Any]]:
        """The batch's rows (`COLUMNS`), read from the directory's and the history's tables named with `source`.
        Every read is by position, so tables that have moved on past the batch give the same rows (a rebuild's
        worker computes them a batch behind the process writing those tables)."""
        by_tenant: dict[str, list[Recorded]] = defaultdict(list)
        for recorded in batch:
            by_tenant[recorded.event.tenant_id].append(recorded)
        out: list[list[Any]] = []
        with batch_sql(tx, source) as sql:
            for tenant_id, events in by_tenant.items():
                out += _TenantBatch(sql, tenant_id, events).changes()
        return out


class _TenantBatch:
    """One tenant's events of a batch and the history rows they touched."""

    def __init__(self, sql: Any, tenant_id: str, events: list[Recorded]) -> None:
        self.sql = sql
        self.tenant_id = tenant_id
        self.events = {r.position: r for r in events}
        self.lo, self.hi = events[0].position, events[-1].position

    def changes(self) -> list[list[Any]]:
        closed_at = self._closed_position()
        touched: dict[str, set[int]] = defaultdict(set)
        for row in self.sql.all(
            "SELECT user_id, from_position AS p FROM permission_history{s} WHERE tenant_id = ? "
            "AND from_position BETWEEN ? AND ? UNION ALL SELECT user_id, to_position AS p FROM permission_history{s} "
            "WHERE tenant_id = ? AND to_position BETWEEN ? AND ?",
            (self.tenant_id, self.lo, self.hi, self.tenant_id, self.lo, self.hi),
        ):
            if row["p"] in self.events:
                touched[row["user_id"]].add(row["p"])
        if closed_at is not None and closed_at in self.events:
            for row in self.sql.all(
                "SELECT DISTINCT user_id FROM permission_history{s} WHERE tenant_id = ? AND from_position < ? "
                "AND (to_position IS NULL OR to_position >= ?)",
                (self.tenant_id, closed_at, closed_at),
            ):
                touched[row["user_id"]].add(closed_at)
        moved = self._moved()
        for position, users in moved.items():
            for user_id in users:
                touched[user_id].add(position)
        if not touched:
            return []
        rows = self._rows(sorted(touched))
        started = self._started(rows)
        moves = sorted(p for p, r in self.events.items() if r.event_type == "ResourceParentSet")
        tree = _Tree(self.sql, self.tenant_id, moves, self.lo, rows)
        found: dict[int, list[tuple]] = defaultdict(list)
        for user_id, positions in touched.items():
            mine = rows.get(user_id, [])
            for position in sorted(positions):
                also = moved.get(position, {}).get(user_id, set())
                for change in _diff(mine, position, closed_at, started, tree, also):
                    found[position].append((user_id, *change))
        out = []
        for position in sorted(found):
            recorded = self.events[position]
            at, event_type = ts(recorded.event.occurred_at), recorded.event_type
            for index, (user_id, effect, (permission, scope, rtype, rid)) in enumerate(
                sorted(found[position], key=_order)
            ):
                out.append(
                    [self.tenant_id, position, index, at, event_type, user_id, permission, scope, rtype, rid, effect]
                )
        return out

    def _moved(self) -> dict[int, dict[str, set[str]]]:
        """Position of each `ResourceParentSet` → member → permissions granted on an ancestor the resource left or
        joined (R-H2): what those grants cover changed there. Grants on the resource or below it still cover the
        same resources, so they are not touched."""
        out: dict[int, dict[str, set[str]]] = {}
        for position, recorded in sorted(self.events.items()):
            if recorded.event_type != "ResourceParentSet":
                continue
            e = recorded.event
            old: set[Resource] = set()
            new: set[Resource] = set()
            for row in self.sql.all(
                "SELECT ancestors, from_position, to_position FROM dir_parents{s} WHERE tenant_id = ? "
                "AND resource_type = ? AND resource_id = ? AND (from_position = ? OR to_position = ?)",
                (self.tenant_id, e.resource_type, e.resource_id, position, position),
            ):
                chain = {(a["type"], a["id"]) for a in json.loads(row["ancestors"])}
                if row["to_position"] == position:
                    old = chain
                if row["from_position"] == position:
                    new = chain
            users: dict[str, set[str]] = defaultdict(set)
            for resource_type, resource_id in sorted(old ^ new):
                for row in self.sql.all(
                    "SELECT DISTINCT user_id, permission FROM permission_history{s} WHERE tenant_id = ? "
                    "AND resource_type = ? AND resource_id = ? AND source_kind IN ('grant', 'role_grant') "
                    "AND from_position <= ? AND (to_position IS NULL OR to_position > ?)",
                    (self.tenant_id, resource_type, resource_id, position, position),
                ):
                    users[row["user_id"]].add(row["permission"])
            if users:
                out[position] = users
        return out

    def _closed_position(self) -> int | None:
        rows = self.sql.all("SELECT closed_position FROM dir_tenants{s} WHERE tenant_id = ?", (self.tenant_id,))
        return rows[0]["closed_position"] if rows else None

    def _rows(self, users: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The touched members' rows live at some point of the batch.

        Sought by member (the primary key's tenant and user): `+from_position` keeps both planners off the
        `opened` index, whose `from_position <= hi` matches the tenant's whole history (without statistics SQLite
        and a fresh PostgreSQL chose it, and every command's catch-up grew with the tenant's age)."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for start in range(0, len(users), CHUNK):
            part = users[start : start + CHUNK]
            for row in self.sql.all(
                f"SELECT {_ROW} FROM permission_history{{s}} WHERE tenant_id = ? AND user_id IN ({_marks(part)}) "
                "AND +from_position <= ? AND (to_position IS NULL OR to_position >= ?)",
                (self.tenant_id, *part, self.hi, self.lo),
            ):
                out[row["user_id"]].append(row)
        return out

    def _started(self, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int | None]:
        """Scheduled grants among the rows' sources (R-G3) → the position of their `GrantStarted`, if recorded."""
        grants = sorted({r["source_id"] for rs in rows.values() for r in rs if r["source_kind"] in GRANT_KINDS})
        out: dict[str, int | None] = {}
        for start in range(0, len(grants), CHUNK):
            part = grants[start : start + CHUNK]
            for row in self.sql.all(
                "SELECT grant_id, started_position FROM dir_grants{s} WHERE tenant_id = ? AND starts_at IS NOT NULL "
                f"AND grant_id IN ({_marks(part)})",
                (self.tenant_id, *part),
            ):
                out[row["grant_id"]] = row["started_position"]
        return out


class _Tree:
    """What a resource covers below it at each point of the batch (R-H2): the tree changes only at the batch's
    moves, so one read per (version, type) answers every state between two moves; it reads every root the batch's
    rows name at once."""

    def __init__(
        self, sql: Any, tenant_id: str, moves: list[int], lo: int, rows: dict[str, list[dict[str, Any]]]
    ) -> None:
        self.sql = sql
        self.tenant_id = tenant_id
        self.moves = moves
        self.before = lo - 1
        self.cache: dict[tuple[int, str], dict[Resource, set[Resource]]] = {}
        self.roots: dict[str, set[Resource]] = defaultdict(set)
        for mine in rows.values():
            for row in mine:
                typed = resource_type_of(row["permission"])
                if row["scope"] == "resource" and row["source_kind"] in GRANT_KINDS and typed is not None:
                    self.roots[typed].add((row["resource_type"], row["resource_id"]))

    def below(self, root: Resource, resource_type: str, position: int) -> set[Resource]:
        """The known descendants of `root` of `resource_type` just after event `position`."""
        version = max((m for m in self.moves if m <= position), default=self.before)
        known = self.cache.setdefault((version, resource_type), {})
        if root not in known:
            wanted = ({root} | self.roots[resource_type]) - known.keys()
            known.update(below(self.sql.all, self.tenant_id, wanted, resource_type, AT_POSITION, version))
        return known[root]


_EFFECT_ORDER = {"lost": 0, "gained": 1}


def _order(change: tuple) -> tuple:
    user_id, effect, (permission, scope, rtype, rid) = change
    return (user_id, permission, _EFFECT_ORDER[effect], scope, rtype or "", rid or "")


def _counts(row: dict[str, Any], started: dict[str, int | None]) -> bool:
    """False for the rows a scheduled grant opened before its start: the access begins at `GrantStarted`."""
    if row["source_kind"] not in GRANT_KINDS or row["source_id"] not in started:
        return True
    begun = started[row["source_id"]]
    return begun is not None and row["from_position"] >= begun


def _live(row: dict[str, Any], position: int) -> bool:
    """True if the row holds just after event `position`: opened by then and not closed by then."""
    return row["from_position"] <= position and (row["to_position"] is None or row["to_position"] > position)


def _diff(
    rows: list[dict[str, Any]],
    position: int,
    closed_at: int | None,
    started: dict[str, int | None],
    tree: _Tree,
    also: set[str],
) -> list[tuple[str, Access]]:
    """(effect, access) for what one member gained and lost at `position` (`also`: permissions a move there
    changed the reach of)."""
    changed = {r["permission"] for r in rows if position in (r["from_position"], r["to_position"])} | also
    if closed_at == position:
        changed = {r["permission"] for r in rows}
    out: list[tuple[str, Access]] = []
    for permission in changed:
        mine = [r for r in rows if r["permission"] == permission and _counts(r, started)]
        before = _state(mine, permission, position - 1, closed_at, tree)
        after = _state(mine, permission, position, closed_at, tree)
        out += [("lost", a) for a in before - after]
        out += [("gained", a) for a in after - before]
    return out


def _state(
    rows: list[dict[str, Any]], permission: str, position: int, closed_at: int | None, tree: _Tree
) -> set[Access]:
    """Effective access of one permission after event `position` (nothing once the tenant closed), each named
    resource with what it covers below it then."""
    if closed_at is not None and closed_at <= position:
        return set()
    live = [r for r in rows if _live(r, position)]
    held = effective(permission, sorted((holding_of(r) for r in live), key=lambda h: h.from_position))
    typed = resource_type_of(permission)
    if typed is None:
        return held
    out = set(held)
    for _, scope, resource_type, resource_id in held:
        if scope == "resource":
            out.update(
                (permission, "resource", t, i) for t, i in tree.below((resource_type, resource_id), typed, position)
            )
    return out
