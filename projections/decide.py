"""R-C1/R-C2 over holdings: one pure function answers a check now (from the cache) and as of a past instant
(from SQL), so the two can never disagree. What a scope covers comes from `domain.permissions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from domain.permissions import resource_type_of, scope_rank, widest

# Scopes that cover a resource only through its assignment (R-P4); `team` adds the member's reports (R-H1).
ASSIGNMENT_SCOPES = frozenset({"assigned", "team"})


@dataclass(frozen=True)
class Holding:
    """One source giving a member one permission at one scope: a history row valid at the instant asked."""

    scope: str
    resource_type: str | None
    resource_id: str | None
    source_kind: str
    source_id: str
    from_position: int = 0


def holding_of(row: dict[str, Any]) -> Holding:
    """A Holding from a `permission_history` row."""
    return Holding(
        row["scope"],
        row["resource_type"],
        row["resource_id"],
        row["source_kind"],
        row["source_id"],
        row["from_position"],
    )


def via_of(holdings: Iterable[Holding]) -> list[dict[str, Any]]:
    """Each distinct source once: the role first, then grants in the order they were given (R-C2)."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[int, int, dict[str, Any]]] = []
    for h in holdings:
        key = (h.source_kind, h.source_id)
        if key in seen:
            continue
        seen.add(key)
        if h.source_kind == "role":
            out.append((0, h.from_position, {"kind": "role", "role": h.source_id}))
        else:
            out.append((1, h.from_position, {"kind": h.source_kind, "grant_id": h.source_id}))
    out.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in out]


def decision(
    allowed: bool,
    scope: str | None,
    reason: str | None,
    via: list[dict[str, Any]],
    as_of: str | None,
    position: int,
) -> dict[str, Any]:
    """A Decision as API.md shapes it."""
    return {
        "allowed": allowed,
        "scope": scope,
        "reason": reason,
        "via": via,
        "restriction_id": None,
        "as_of": as_of,
        "position": position,
    }


def decide(
    user_id: str,
    permission: str,
    resource: tuple[str, str] | None,
    holdings: list[Holding],
    assignee: Callable[[], str | None],
) -> tuple[bool, str | None, str | None, list[dict[str, Any]]]:
    """(allowed, scope, reason, via) for a member holding `holdings` of `permission` at the instant asked.

    `assignee()` says who the resource is assigned to at that instant; it is only asked when an `assigned` or
    `team` holding could cover the resource.
    """
    if not holdings:
        return False, None, "not_permitted", []
    if resource is None:
        return True, widest(h.scope for h in holdings), None, via_of(holdings)
    resource_type, resource_id = resource
    covering: list[Holding] = []
    through_assignment = False
    typed = resource_type_of(permission)
    for h in holdings:
        if h.scope == "all":
            covering.append(h)
        elif h.scope == "resource":
            if h.resource_type == resource_type and h.resource_id == resource_id:
                covering.append(h)
        elif h.scope in ASSIGNMENT_SCOPES and typed in (None, resource_type) and assignee() == user_id:
            covering.append(h)
            through_assignment = True
    if not covering:
        if any(h.scope in ASSIGNMENT_SCOPES for h in holdings):
            return False, None, "not_assigned", []
        return False, None, "not_permitted", []
    via = via_of(covering)
    if through_assignment:
        via.append({"kind": "assignment", "resource": {"type": resource_type, "id": resource_id}})
    return True, widest(h.scope for h in covering), None, via


def listings(pairs: Iterable[tuple[str, Holding]]) -> list[dict[str, Any]]:
    """A permission listing (R-L5, members/{u}/permissions) from (permission, holding) pairs, by permission."""
    by_permission: dict[str, list[Holding]] = {}
    for permission, h in pairs:
        by_permission.setdefault(permission, []).append(h)
    return [listing(p, hs) for p, hs in sorted(by_permission.items())]


def listing(permission: str, holdings: list[Holding]) -> dict[str, Any]:
    """One entry: `{permission, scope, resources?}`; the named resources are listed when resource grants add
    something the widest scope does not already cover."""
    scope = widest(h.scope for h in holdings)
    entry: dict[str, Any] = {"permission": permission, "scope": scope}
    if scope is not None and scope_rank(scope) < scope_rank("all"):
        resources = sorted({(h.resource_type, h.resource_id) for h in holdings if h.scope == "resource"})
        if resources:
            entry["resources"] = [{"type": t, "id": i} for t, i in resources]
    return entry
