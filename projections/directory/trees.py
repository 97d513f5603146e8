"""The directory's rows for custom roles (R-P7), restrictions (R-P8), reporting lines (R-H1) and resource parents
(R-H2), registered into `DirectoryProjection.HANDLERS` by `projections.directory.projection`.

Reporting lines and resource parents are kept as closures: a row per interval with the node's whole chain above it
(`managers`, `ancestors`), so a check reads one row instead of walking a tree (see `directory_schema`). Moving a node
reads the rows below it (rare; the only reads the directory makes) and reopens them with their new chains.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.tenant import structure_events as se
from domain.tenant.events import TenantEvent
from projections.directory.writer import Writer
from projections.eventstore import Recorded
from projections.values import ts

MAX_NODES = 1_000_000  # a guard against a corrupted table, far above any real tree


def dumps(value: Any) -> str:
    """The stored JSON of a list (compact, so a rebuilt row equals the incremental one)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ----------------------------------------------------------------------------------------- custom roles


def _open_definition(w: Writer, r: Recorded, e: Any, name: str, includes: list[str], permissions: list) -> None:
    w.run(
        "INSERT INTO dir_role_defs{s} (tenant_id, role_id, name, includes, permissions, valid_from, valid_to, "
        "from_position, to_position, to_event) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL)",
        (e.tenant_id, e.role_id, name, dumps(list(includes)), dumps(list(permissions)), ts(e.occurred_at), r.position),
    )


def _close_definition(w: Writer, r: Recorded, e: Any) -> None:
    w.run(
        "UPDATE dir_role_defs{s} SET valid_to = ?, to_position = ?, to_event = ? "
        "WHERE tenant_id = ? AND role_id = ? AND valid_to IS NULL",
        (ts(e.occurred_at), r.position, r.event_type, e.tenant_id, e.role_id),
    )


def _role_defined(w: Writer, r: Recorded, e: se.RoleDefined) -> None:
    _open_definition(w, r, e, e.name, e.includes, e.permissions)


def _role_redefined(w: Writer, r: Recorded, e: se.RoleRedefined) -> None:
    _close_definition(w, r, e)
    _open_definition(w, r, e, e.new["name"], e.new["includes"], e.new["permissions"])


def _role_deleted(w: Writer, r: Recorded, e: se.RoleDeleted) -> None:
    _close_definition(w, r, e)


# ----------------------------------------------------------------------------------------- restrictions


def _restriction_added(w: Writer, r: Recorded, e: se.RestrictionAdded) -> None:
    resource = e.resource or {}
    w.run(
        "INSERT INTO dir_restrictions{s} (tenant_id, restriction_id, user_id, permission, scope, resource_type, "
        "resource_id, created_by, created_at, created_position, status, lifted_at, lifted_position, lift_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, NULL, NULL)",
        (
            e.tenant_id,
            e.restriction_id,
            e.user_id,
            e.permission,
            e.scope,
            resource.get("type"),
            resource.get("id"),
            e.actor,
            ts(e.occurred_at),
            r.position,
        ),
    )


def _restriction_lifted(w: Writer, r: Recorded, e: se.RestrictionLifted) -> None:
    w.run(
        "UPDATE dir_restrictions{s} SET status = 'lifted', lifted_at = ?, lifted_position = ?, lift_reason = ? "
        "WHERE tenant_id = ? AND restriction_id = ?",
        (ts(e.occurred_at), r.position, e.reason, e.tenant_id, e.restriction_id),
    )


# ----------------------------------------------------------------------------------------- closures


@dataclass(frozen=True)
class Tree:
    """One closure table: its node and parent columns and the column holding the chain above a node."""

    table: str
    node: tuple[str, ...]
    parent: tuple[str, ...]
    chain: str

    def move(self, w: Writer, r: Recorded, e: Any, node: tuple[str, ...], parent: tuple[str, ...] | None) -> None:
        """`node` gets `parent` (None: none) from this event on; every node below it gets its new chain."""
        below = self._below(w, e.tenant_id, node)
        above = None if parent is None else [self._as_link(parent), *self._chain_of(w, e.tenant_id, parent)]
        self._close(w, r, e, node)
        if parent is not None:
            self._open(w, r, e, node, parent, above)
        chains = {node: above or []}
        for child, child_parent in below:
            chain = [self._as_link(child_parent), *chains[child_parent]]
            chains[child] = chain
            self._close(w, r, e, child)
            self._open(w, r, e, child, child_parent, chain)

    def _as_link(self, node: tuple[str, ...]) -> Any:
        return node[0] if len(node) == 1 else {"type": node[0], "id": node[1]}

    def _where(self, columns: tuple[str, ...]) -> str:
        return " AND ".join(f"{c} = ?" for c in columns)

    def _chain_of(self, w: Writer, tenant_id: str, node: tuple[str, ...]) -> list[Any]:
        rows = w.all(
            f"SELECT {self.chain} FROM {self.table}{{s}} WHERE tenant_id = ? AND {self._where(self.node)} "
            "AND valid_to IS NULL",
            (tenant_id, *node),
        )
        return json.loads(rows[0][self.chain]) if rows else []

    def _below(self, w: Writer, tenant_id: str, node: tuple[str, ...]) -> list[tuple[tuple[str, ...], tuple]]:
        """(node, its parent) for everything below `node`, parents before children (breadth first)."""
        out: list[tuple[tuple[str, ...], tuple]] = []
        seen, todo = {node}, [node]
        while todo and len(out) < MAX_NODES:
            current = todo.pop(0)
            # Sorted here, not by ORDER BY: on SQLite that made the planner scan the tenant's whole table through
            # the primary key (in node order) for every node, a move of a big subtree quadratic.
            rows = w.all(
                f"SELECT {', '.join(self.node)} FROM {self.table}{{s}} WHERE tenant_id = ? "
                f"AND {self._where(self.parent)} AND valid_to IS NULL",
                (tenant_id, *current),
            )
            for child in sorted(tuple(row[c] for c in self.node) for row in rows):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
                    out.append((child, current))
        return out

    def _close(self, w: Writer, r: Recorded, e: Any, node: tuple[str, ...]) -> None:
        w.run(
            f"UPDATE {self.table}{{s}} SET valid_to = ?, to_position = ? WHERE tenant_id = ? "
            f"AND {self._where(self.node)} AND valid_to IS NULL",
            (ts(e.occurred_at), r.position, e.tenant_id, *node),
        )

    def _open(self, w: Writer, r: Recorded, e: Any, node: tuple, parent: tuple, chain: list[Any]) -> None:
        columns = ("tenant_id", *self.node, *self.parent, self.chain, "valid_from", "from_position")
        w.run(
            f"INSERT INTO {self.table}{{s}} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            (e.tenant_id, *node, *parent, dumps(chain), ts(e.occurred_at), r.position),
        )


REPORTING = Tree("dir_reporting", ("user_id",), ("reports_to",), "managers")
PARENTS = Tree("dir_parents", ("resource_type", "resource_id"), ("parent_type", "parent_id"), "ancestors")


def _reporting_line(w: Writer, r: Recorded, e: se.ReportingLineChanged) -> None:
    w.run(
        "UPDATE dir_members{s} SET reports_to = ? WHERE tenant_id = ? AND user_id = ? AND status = 'active'",
        (e.new_reports_to, e.tenant_id, e.user_id),
    )
    REPORTING.move(w, r, e, (e.user_id,), None if e.new_reports_to is None else (e.new_reports_to,))


def _resource_parent(w: Writer, r: Recorded, e: se.ResourceParentSet) -> None:
    parent = None if e.new_parent is None else (e.new_parent["type"], e.new_parent["id"])
    PARENTS.move(w, r, e, (e.resource_type, e.resource_id), parent)


def close_reporting(w: Writer, r: Recorded, e: Any) -> None:
    """A removed member's line ends with the membership (their reports were moved up by their own events)."""
    w.run(
        "UPDATE dir_reporting{s} SET valid_to = ?, to_position = ? WHERE tenant_id = ? AND user_id = ? "
        "AND valid_to IS NULL",
        (ts(e.occurred_at), r.position, e.tenant_id, e.user_id),
    )


HANDLERS: dict[type[TenantEvent], Callable[[Writer, Recorded, Any], None]] = {
    se.RoleDefined: _role_defined,
    se.RoleRedefined: _role_redefined,
    se.RoleDeleted: _role_deleted,
    se.RestrictionAdded: _restriction_added,
    se.RestrictionLifted: _restriction_lifted,
    se.ReportingLineChanged: _reporting_line,
    se.ResourceParentSet: _resource_parent,
}
