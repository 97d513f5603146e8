"""What a grant on a resource covers below it (R-H2), as the access report (R-L5) and the change feed (R-C5) list
it: the granted resource's *known* descendants (every resource with a parent is known, R-C4) at one point of the
history, read from the resource tree's rows (`dir_parents`) with one recursive query per chunk of roots, through
the tree's `children` index (proportional to the subtree, never to the tenant).

The point is either an instant (the report: rows valid then) or a position (the feed: rows live just after that
event), so both sides read the same tree the check reads (`projections.queries.access.SqlPlace.lineage`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from domain.permissions import resource_type_of

Resource = tuple[str, str]
SqlAll = Callable[[str, Sequence[Any]], list[dict[str, Any]]]

AT_INSTANT = "p.valid_from <= ? AND (p.valid_to IS NULL OR p.valid_to > ?)"
AT_POSITION = "p.from_position <= ? AND (p.to_position IS NULL OR p.to_position > ?)"
CHUNK = 300  # roots per query: 2 parameters each, far below SQLite's limit

_BELOW = """WITH RECURSIVE roots(rt, ri) AS (VALUES {roots}),
below(root_type, root_id, rtype, rid) AS (
    SELECT rt, ri, rt, ri FROM roots
    UNION
    SELECT b.root_type, b.root_id, p.resource_type, p.resource_id FROM below b JOIN dir_parents{{s}} p
    ON p.tenant_id = ? AND p.parent_type = b.rtype AND p.parent_id = b.rid AND {live}
)
SELECT root_type, root_id, rtype, rid FROM below WHERE rtype = ? AND NOT (rtype = root_type AND rid = root_id)"""


def below(
    sql_all: SqlAll, tenant_id: str, roots: Iterable[Resource], resource_type: str, live: str, point: Any
) -> dict[Resource, set[Resource]]:
    """Root → its descendants of `resource_type` live at `point` (`live` is AT_INSTANT or AT_POSITION); `sql_all`
    runs a statement whose table names carry `{s}`."""
    ordered = sorted(set(roots))
    out: dict[Resource, set[Resource]] = {root: set() for root in ordered}
    for start in range(0, len(ordered), CHUNK):
        part = ordered[start : start + CHUNK]
        values = ", ".join("(CAST(? AS TEXT), CAST(? AS TEXT))" for _ in part)
        params: list[Any] = [v for root in part for v in root]
        params += [tenant_id, point, point, resource_type]
        for row in sql_all(_BELOW.format(roots=values, live=live), params):
            out[(row["root_type"], row["root_id"])].add((row["rtype"], row["rid"]))
    return out


def widen_listings(
    sql_all: SqlAll, tenant_id: str, listed: Iterable[list[dict[str, Any]]], live: str, point: Any
) -> None:
    """Add to each entry's `resources` (in place) what its named resources cover below them of the permission's
    type, by id: the report's answer to "which resources does this grant reach" (R-H2, R-L5)."""
    entries = [entry for permissions in listed for entry in permissions if entry.get("resources")]
    wanted: dict[str, set[Resource]] = {}
    for entry in entries:
        typed = resource_type_of(entry["permission"])
        if typed is not None:
            wanted.setdefault(typed, set()).update((r["type"], r["id"]) for r in entry["resources"])
    found = {typed: below(sql_all, tenant_id, roots, typed, live, point) for typed, roots in wanted.items()}
    for entry in entries:
        typed = resource_type_of(entry["permission"])
        if typed is None:
            continue
        named = {(r["type"], r["id"]) for r in entry["resources"]}
        covered = set(named)
        for root in named:
            covered |= found[typed][root]
        if covered != named:
            entry["resources"] = [{"type": t, "id": i} for t, i in sorted(covered)]


def plain(tx: Any) -> SqlAll:
    """`sql_all` for a reader's transaction (the serving tables, no suffix)."""
    return lambda statement, params: tx.all(statement.replace("{s}", ""), params)
