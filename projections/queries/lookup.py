"""Lookups (R-C4): which resources a member may act on, and which members may act on one resource, now or as of
any instant, paged by resource or user id.

Every item is decided by `projections.queries.decide.decide`, the function behind `check`, over what `check` reads:
the member's holdings and the resource's place from the access cache (`projections.queries.access_cache`). This
module only chooses the candidates, in id order, so a page costs about its size whatever the tenant's:
- resources, for a holder at scope `all` (or of a permission without a resource type): every known resource of the
  type (`dir_resources`: named by any event, also one after the instant asked); otherwise the resources assigned to
  the member (and, for `team`, to anyone below them), each query paged by id, and those a resource grant names,
  with everything below them (R-H2);
- subjects: the only members a source can give the permission on that resource (see `_subjects`); restrictions
  only withdraw, so they never add a candidate, and `decide` applies them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from domain.permissions import resource_type_of
from projections.queries.access_cache import AccessCache, TenantEntry
from projections.queries.below import AT_INSTANT, below, plain
from projections.queries.decide import Holding, decide
from projections.values import ts

PAGE = 100  # candidates read and decided together, at the least
HOLDERS = 50  # members whose assignments one statement reads
_ASSIGNED = (
    "SELECT resource_id FROM dir_assignments WHERE tenant_id = ? AND resource_type = ? "
    "AND assigned_at <= ? AND (unassigned_at IS NULL OR unassigned_at > ?)"
)
_NEXT = " AND resource_id > ? ORDER BY resource_id LIMIT ?"  # a page after a cursor


def _marks(items: list[Any]) -> str:
    return ", ".join("?" for _ in items)


def lookup_resources(
    cache: AccessCache,
    entry: TenantEntry,
    user_id: str,
    permission: str,
    resource_type: str,
    instant: datetime,
    after: str | None,
    limit: int,
) -> tuple[bool, list[dict[str, Any]], str | None]:
    """(all, items, the id to continue after or None): resources of `resource_type` that `check` allows."""
    standing = None if entry.closed(instant) else cache.standing(entry, user_id, permission, instant)
    if standing is None:
        return False, [], None
    holdings = standing[1]
    allowed, scope, _, _, _ = decide(user_id, permission, None, holdings, None)
    if not allowed:
        return False, [], None
    everything = scope == "all"
    size = max(limit + 1, PAGE)
    if everything or resource_type_of(permission) is None:
        ids = _paged(
            cache,
            "SELECT resource_id FROM dir_resources WHERE tenant_id = ? AND resource_type = ?",
            (entry.tenant_id, resource_type),
            after,
            size,
        )
    else:
        ids = _covered(cache, entry, user_id, permission, resource_type, holdings, ts(instant), after, size)
    # Where a resource sits matters only to holdings (or restrictions) below `all`.
    placed = any(h.scope != "all" for h in holdings)
    items: list[dict[str, Any]] = []
    for chunk in _chunks(ids, size):
        states = cache.resources(entry, resource_type, chunk) if placed else {}
        for resource_id in chunk:
            resource = (resource_type, resource_id)
            place = cache.place(entry, resource, instant, states.get(resource_id))
            ok, granted, _, via, _ = decide(user_id, permission, resource, holdings, place)
            if ok:
                items.append({"resource": {"type": resource_type, "id": resource_id}, "scope": granted, "via": via})
                if len(items) > limit:
                    return everything, items[:limit], items[limit - 1]["resource"]["id"]
    return everything, items, None


def _chunks(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for i in ids:
        chunk.append(i)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _paged(cache: AccessCache, select: str, params: tuple[Any, ...], after: str | None, size: int) -> Iterator[str]:
    """The `resource_id`s `select` finds, in order after `after`, read `size` at a time (each read on its own, so
    the caller may read the cache in between)."""
    return _pages(cache, lambda after, size: (f"{select}{_NEXT}", (*params, after, size)), after, size)


def _pages(
    cache: AccessCache, statement: Callable[[str, int], tuple[str, tuple[Any, ...]]], after: str | None, size: int
) -> Iterator[str]:
    """The ids `statement(after, size)` reads, `size` at a time, in order after `after`."""
    while True:
        with cache.store.autocommit() as tx:
            ids = [row[0] for row in tx.tuples(*statement(after or "", size))]
        yield from ids
        if len(ids) < size:
            return
        after = ids[-1]


def _assigned_to(
    cache: AccessCache, key: tuple[Any, ...], holders: list[str], after: str | None, size: int
) -> Iterator[str]:
    """The resources assigned to any of `holders` at the instant, in id order: one index range per holder
    (`dir_assignments_user`), each cut at `size`, merged in the statement; one IN list over them all would walk
    every assignment of the type in id order instead."""
    one = f"SELECT resource_id FROM ({_ASSIGNED} AND user_id = ?{_NEXT})"
    union = " UNION ALL ".join(f"{one} AS a{k}" for k in range(len(holders)))

    def statement(after: str, size: int) -> tuple[str, tuple[Any, ...]]:
        params = [value for holder in holders for value in (*key, holder, after, size)]
        return f"SELECT resource_id FROM ({union}) AS u ORDER BY resource_id LIMIT ?", (*params, size)

    return _pages(cache, statement, after, size)


def _covered(
    cache: AccessCache,
    entry: TenantEntry,
    user_id: str,
    permission: str,
    resource_type: str,
    holdings: list[Holding],
    at: str,
    after: str | None,
    size: int,
) -> Iterator[str]:
    """In id order, once each: every resource of the type a holding below `all` could cover at the instant
    (decide says which it does)."""
    tenant_id = entry.tenant_id
    giving = [h for h in holdings if not h.withdraws]
    scopes = {h.scope for h in giving}
    sources: list[Iterator[str]] = []
    if scopes & {"assigned", "team"}:
        key = (tenant_id, resource_type, at, at)
        if "team" in scopes and user_id == entry.owner_id:
            sources.append(_paged(cache, _ASSIGNED, key, after, size))  # everyone is below the owner
        else:
            holders = [user_id, *(_below(cache, tenant_id, user_id, at) if "team" in scopes else ())]
            for start in range(0, len(holders), HOLDERS):
                sources.append(_assigned_to(cache, key, holders[start : start + HOLDERS], after, size))
    if resource_type_of(permission) == resource_type:
        granted = [(h.resource_type, h.resource_id) for h in giving if h.scope == "resource" and h.resource_type]
        if granted:
            below = _under(cache, tenant_id, resource_type, granted, at)
            sources.append(iter(sorted(i for i in below if after is None or i > after)))
    last = None
    for resource_id in heapq.merge(*sources):
        if resource_id != last:
            yield resource_id
            last = resource_id


# Everyone below a member at an instant: their reports, then theirs (R-H1), through `dir_reporting_reports`.
_TEAM = """WITH RECURSIVE team(user_id) AS (
    SELECT CAST(? AS TEXT)
    UNION
    SELECT r.user_id FROM team t JOIN dir_reporting r ON r.tenant_id = ? AND r.reports_to = t.user_id
    AND r.valid_from <= ? AND (r.valid_to IS NULL OR r.valid_to > ?)
)
SELECT user_id FROM team WHERE user_id <> ?"""


def _below(cache: AccessCache, tenant_id: str, user_id: str, at: str) -> list[str]:
    """The members below `user_id` in the reporting lines at the instant (R-H1), in id order."""
    with cache.store.autocommit() as tx:
        return sorted(row[0] for row in tx.tuples(_TEAM, (user_id, tenant_id, at, at, user_id)))


def _under(cache: AccessCache, tenant_id: str, resource_type: str, granted: list[tuple[str, str]], at: str) -> set[str]:
    """The resources of the type named by resource grants, or below one at the instant (R-H2): the tree's rows
    under the granted ones (`projections.queries.below`, through the `children` index), never the whole tree."""
    found = {i for t, i in granted if t == resource_type}
    with cache.store.autocommit() as tx:
        for covered in below(plain(tx), tenant_id, granted, resource_type, AT_INSTANT, at).values():
            found.update(i for _, i in covered)
    return found


def lookup_subjects(
    cache: AccessCache,
    entry: TenantEntry,
    permission: str,
    resource: tuple[str, str],
    instant: datetime,
    after: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """(items, the user id to continue after or None): members `check` allows on `resource` at the instant."""
    if entry.closed(instant):
        return [], None
    place = cache.place(entry, resource, instant)
    items: list[dict[str, Any]] = []
    candidates = _subjects(cache, entry, permission, resource, place, instant)
    for user_id in sorted(u for u in candidates if after is None or u > after):
        standing = cache.standing(entry, user_id, permission, instant)
        if standing is None:
            continue  # rows are closed when a member leaves; the role interval is what `check` asks
        role, holdings = standing
        ok, scope, _, via, _ = decide(user_id, permission, resource, holdings, place)
        if ok:
            items.append({"user_id": user_id, "role": role, "scope": scope, "via": via})
            if len(items) > limit:
                return items[:limit], items[limit - 1]["user_id"]
    return items, None


def _subjects(
    cache: AccessCache, entry: TenantEntry, permission: str, resource: tuple[str, str], place: Any, instant: datetime
) -> set[str]:
    """Every member a source could give `permission` on `resource` at the instant, from what `decide` lets cover
    it: a holding at scope `all` (any holding, for a permission without a resource type); a resource grant on the
    resource or an ancestor (for the permission's own type, R-H2, R-P9); for `assigned` and `team`, the assignee,
    and for `team` whoever is above them (R-H1: their managers and the owner)."""
    at = ts(instant)
    typed = resource_type_of(permission)
    giving = (
        "SELECT user_id FROM permission_history WHERE tenant_id = ? AND permission = ? "
        "AND source_kind <> 'restriction' AND valid_from <= ? AND (expires_at IS NULL OR expires_at > ?) AND "
    )
    key: tuple[Any, ...] = (entry.tenant_id, permission, at, at)
    covering: list[tuple[str, tuple[Any, ...]]] = []
    if typed is None:
        covering.append(("", ()))
    else:
        covering.append((" AND scope = 'all'", ()))
        if typed == resource[0]:
            lineage: dict[str, list[str]] = {}
            for node_type, node_id in place.lineage():
                lineage.setdefault(node_type, []).append(node_id)
            for node_type, node_ids in sorted(lineage.items()):
                ids = sorted(node_ids)
                condition = f" AND scope = 'resource' AND resource_type = ? AND resource_id IN ({_marks(ids)})"
                covering.append((condition, (node_type, *ids)))
    # Open rows and rows closed after the instant, each through its own index.
    selects, params = [], []
    for condition, values in covering:
        selects.append(f"{giving}valid_to IS NULL{condition}")
        params += [*key, *values]
        selects.append(f"{giving}valid_to IS NOT NULL AND valid_to > ?{condition}")
        params += [*key, at, *values]
    with cache.store.autocommit() as tx:
        found = {row["user_id"] for row in tx.all(" UNION ".join(selects), params)}
    assignee = place.assignee()
    if assignee is not None:
        found |= {assignee, entry.owner_id, *cache.managers(entry, assignee).above_at(instant)}
    return found
