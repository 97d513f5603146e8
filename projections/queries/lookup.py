"""Lookups (R-C4): which resources a member may act on, and which members may act on one resource, now or as of
any instant, paged by resource or user id.

Every item is decided by `projections.queries.decide.decide`, the function behind `check`, over the same history
rows; this module only chooses the candidates and feeds the decision where each resource sits (`Place`), read in
bulk. Candidates: for a holder at scope `all` (or of a permission without a resource type) every known resource of
the type (`dir_resources`: named by any event, also one after the instant asked), in id order, so the first page
costs the same in any tenant; otherwise the resources
assigned to the member (and, for `team`, to anyone below them) and those a resource grant names, with everything
below them (R-H2). Subjects: the members holding the permission at the instant, each decided on the one resource.
"""

from __future__ import annotations

import json
from typing import Any

from domain.permissions import resource_type_of
from projections.queries.access import closed_at, holdings_at, role_at
from projections.queries.decide import Holding, decide, holding_of

CHUNK = 500


def _marks(items: list[Any]) -> str:
    return ", ".join("?" for _ in items)


class Where:
    """Where the resources of one type sit at one instant, read in bulk for the ids asked (a `Place` factory)."""

    def __init__(self, tx: Any, tenant: dict[str, Any], resource_type: str, at: str) -> None:
        self.tx = tx
        self.tenant = tenant
        self.resource_type = resource_type
        self.at = at
        self.assignees: dict[str, str | None] = {}
        self.ancestors: dict[str, frozenset[tuple[str, str]]] = {}
        self.managers: dict[str, frozenset[str]] = {}

    def load(self, ids: list[str]) -> None:
        """Read the assignees and ancestors of `ids` at the instant (a few statements, whatever their number)."""
        tenant_id, at = self.tenant["tenant_id"], self.at
        missing = [i for i in ids if i not in self.assignees]
        for start in range(0, len(missing), CHUNK):
            part = missing[start : start + CHUNK]
            for i in part:
                self.assignees[i] = None
            for row in self.tx.all(
                "SELECT resource_id, user_id FROM dir_assignments WHERE tenant_id = ? AND resource_type = ? "
                f"AND resource_id IN ({_marks(part)}) AND assigned_at <= ? "
                "AND (unassigned_at IS NULL OR unassigned_at > ?)",
                (tenant_id, self.resource_type, *part, at, at),
            ):
                self.assignees[row["resource_id"]] = row["user_id"]
        missing = [i for i in ids if i not in self.ancestors]
        for start in range(0, len(missing), CHUNK):
            part = missing[start : start + CHUNK]
            for i in part:
                self.ancestors[i] = frozenset({(self.resource_type, i)})
            for row in self.tx.all(
                "SELECT resource_id, ancestors FROM dir_parents WHERE tenant_id = ? AND resource_type = ? "
                f"AND resource_id IN ({_marks(part)}) AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
                (tenant_id, self.resource_type, *part, at, at),
            ):
                above = ((a["type"], a["id"]) for a in json.loads(row["ancestors"]))
                self.ancestors[row["resource_id"]] = frozenset({(self.resource_type, row["resource_id"]), *above})

    def place(self, resource_id: str) -> _Place:
        return _Place(self, resource_id)

    def above(self, member_id: str) -> frozenset[str]:
        """Who is above `member_id` in the reporting lines at the instant (the owner left out)."""
        found = self.managers.get(member_id)
        if found is None:
            row = self.tx.one(
                "SELECT managers FROM dir_reporting WHERE tenant_id = ? AND user_id = ? AND valid_from <= ? "
                "AND (valid_to IS NULL OR valid_to > ?) ORDER BY valid_from DESC, from_position DESC LIMIT 1",
                (self.tenant["tenant_id"], member_id, self.at, self.at),
            )
            found = frozenset(json.loads(row["managers"])) if row is not None else frozenset()
            self.managers[member_id] = found
        return found


class _Place:
    """One resource at the instant (`projections.queries.decide.Place`), from what `Where` read."""

    def __init__(self, where: Where, resource_id: str) -> None:
        self.where = where
        self.resource_id = resource_id

    def _ensure(self) -> None:
        if self.resource_id not in self.where.assignees or self.resource_id not in self.where.ancestors:
            self.where.load([self.resource_id])

    def assignee(self) -> str | None:
        self._ensure()
        return self.where.assignees[self.resource_id]

    def lineage(self) -> frozenset:
        self._ensure()
        return self.where.ancestors[self.resource_id]

    def manages(self, user_id: str, member_id: str) -> bool:
        if user_id in (member_id, self.where.tenant["owner_id"]):
            return True
        return user_id in self.where.above(member_id)


def _item(resource_type: str, resource_id: str, scope: str | None, via: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resource": {"type": resource_type, "id": resource_id}, "scope": scope, "via": via}


def lookup_resources(
    tx: Any,
    tenant: dict[str, Any],
    user_id: str,
    permission: str,
    resource_type: str,
    at: str,
    after: str | None,
    limit: int,
) -> tuple[bool, list[dict[str, Any]], str | None]:
    """(all, items, the id to continue after or None): resources of `resource_type` that `check` allows."""
    tenant_id = tenant["tenant_id"]
    if closed_at(tenant, at) or role_at(tx, tenant_id, user_id, at) is None:
        return False, [], None
    holdings = holdings_at(tx, tenant_id, user_id, permission, at)
    allowed, scope, _, _, _ = decide(user_id, permission, None, holdings, None)
    if not allowed:
        return False, [], None
    everything = scope == "all"
    where = Where(tx, tenant, resource_type, at)
    items: list[dict[str, Any]] = []

    # Where the resources sit matters only to holdings below `all` and to restrictions below `all`.
    placed = any(h.scope != "all" for h in holdings)

    def take(ids: list[str]) -> bool:
        """Decide each id in order; True once the page is full (one more item than `limit` was found)."""
        if placed:
            where.load(ids)
        for resource_id in ids:
            ok, granted, _, via, _ = decide(
                user_id, permission, (resource_type, resource_id), holdings, where.place(resource_id)
            )
            if ok:
                items.append(_item(resource_type, resource_id, granted, via))
                if len(items) > limit:
                    return True
        return False

    giving = [h for h in holdings if not h.withdraws]
    if everything or resource_type_of(permission) is None:
        cursor = after
        while True:
            ids = [
                row["resource_id"]
                for row in tx.all(
                    "SELECT resource_id FROM dir_resources WHERE tenant_id = ? AND resource_type = ? "
                    "AND resource_id > ? ORDER BY resource_id LIMIT ?",
                    (tenant_id, resource_type, cursor or "", max(limit + 1, 100)),
                )
            ]
            if not ids or take(ids):
                break
            cursor = ids[-1]
    else:
        candidates = sorted(
            i
            for i in _candidates(tx, tenant, user_id, permission, resource_type, giving, at, where)
            if after is None or i > after
        )
        for start in range(0, len(candidates), max(limit + 1, 100)):
            if take(candidates[start : start + max(limit + 1, 100)]):
                break
    page = items[:limit]
    next_after = page[-1]["resource"]["id"] if len(items) > limit else None
    return everything, page, next_after


def _candidates(
    tx: Any,
    tenant: dict[str, Any],
    user_id: str,
    permission: str,
    resource_type: str,
    giving: list[Holding],
    at: str,
    where: Where,
) -> set[str]:
    """Every resource of the type a narrower holding could cover at the instant (decide says which it does)."""
    tenant_id = tenant["tenant_id"]
    scopes = {h.scope for h in giving}
    found: set[str] = set()
    if scopes & {"assigned", "team"}:
        holders = [user_id]
        if "team" in scopes:
            if user_id == tenant["owner_id"]:
                holders = []  # everyone is below the owner
            else:
                holders += [
                    row["user_id"]
                    for row in tx.all(
                        "SELECT user_id, managers FROM dir_reporting WHERE tenant_id = ? AND valid_from <= ? "
                        "AND (valid_to IS NULL OR valid_to > ?) AND managers LIKE ?",
                        (tenant_id, at, at, f"%{json.dumps(user_id)}%"),
                    )
                    if user_id in json.loads(row["managers"])
                ]
        sql = (
            "SELECT resource_id, user_id FROM dir_assignments WHERE tenant_id = ? AND resource_type = ? "
            "AND assigned_at <= ? AND (unassigned_at IS NULL OR unassigned_at > ?)"
        )
        if not holders:
            rows = tx.all(sql, (tenant_id, resource_type, at, at))
        else:
            rows = []
            for start in range(0, len(holders), CHUNK):
                part = holders[start : start + CHUNK]
                rows += tx.all(f"{sql} AND user_id IN ({_marks(part)})", (tenant_id, resource_type, at, at, *part))
        for row in rows:
            found.add(row["resource_id"])
            where.assignees[row["resource_id"]] = row["user_id"]
    if resource_type_of(permission) == resource_type:
        for h in giving:
            if h.scope != "resource":
                continue
            if h.resource_type == resource_type:
                found.add(h.resource_id)
            needle = json.dumps(h.resource_id)  # narrows the scan; the parsed chain decides
            for row in tx.all(
                "SELECT resource_id, ancestors FROM dir_parents WHERE tenant_id = ? AND resource_type = ? "
                "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) AND ancestors LIKE ?",
                (tenant_id, resource_type, at, at, f"%{needle}%"),
            ):
                above = {(a["type"], a["id"]) for a in json.loads(row["ancestors"])}
                if (h.resource_type, h.resource_id) in above:
                    found.add(row["resource_id"])
    return found


def lookup_subjects(
    tx: Any,
    tenant: dict[str, Any],
    permission: str,
    resource: tuple[str, str],
    at: str,
    after: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """(items, the user id to continue after or None): members `check` allows on `resource` at the instant."""
    tenant_id = tenant["tenant_id"]
    if closed_at(tenant, at):
        return [], None
    by_user: dict[str, list[Holding]] = {}
    # Open rows and rows closed after the instant, each through its own index.
    select = (
        "SELECT user_id, scope, resource_type, resource_id, source_kind, source_id, from_position "
        "FROM permission_history WHERE tenant_id = ? AND permission = ? AND user_id > ? AND valid_from <= ? "
        "AND (expires_at IS NULL OR expires_at > ?) AND "
    )
    key = (tenant_id, permission, after or "", at, at)
    for row in tx.all(
        f"{select} valid_to IS NULL UNION ALL {select} valid_to IS NOT NULL AND valid_to > ?", (*key, *key, at)
    ):
        by_user.setdefault(row["user_id"], []).append(holding_of(row))
    where = Where(tx, tenant, resource[0], at)
    where.load([resource[1]])
    place = where.place(resource[1])
    allowed: list[tuple[str, str | None, list[dict[str, Any]]]] = []
    for user_id in sorted(by_user):
        holdings = sorted(by_user[user_id], key=lambda h: h.from_position)
        ok, scope, _, via, _ = decide(user_id, permission, resource, holdings, place)
        if ok:
            allowed.append((user_id, scope, via))
            if len(allowed) > limit:
                break
    roles: dict[str, str] = {}
    if allowed:
        users = [u for u, _, _ in allowed]
        for row in tx.all(
            "SELECT user_id, role FROM dir_roles WHERE tenant_id = ? AND valid_from <= ? "
            f"AND (valid_to IS NULL OR valid_to > ?) AND user_id IN ({_marks(users)})",
            (tenant_id, at, at, *users),
        ):
            roles[row["user_id"]] = row["role"]
    # Rows are closed when a member leaves; a member's role interval is what `check` asks, so it decides here too.
    members = [(u, s, v) for u, s, v in allowed if u in roles]
    page = members[:limit]
    items = [{"user_id": u, "role": roles[u], "scope": s, "via": v} for u, s, v in page]
    return items, (page[-1][0] if len(members) > limit else None)
