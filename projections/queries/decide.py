"""R-C1/R-C2 over holdings: one pure function answers a check now (from the cache) and as of a past instant (from SQL),
so the two can never disagree. What a scope covers comes from `domain.permissions`.

`decide` restates, over history rows, the rule the aggregate applies to its present state in
`domain.effective_access.Access.holds` (with `restriction_for`, `_covers_named` and `_granted_on`): any source covering
the resource gives the permission; `all` covers everything, `team` a resource assigned to the member or anyone below
them (R-H1), `assigned` one assigned to the member, `resource` the named resource and everything below it (R-H2, only
for resources of the permission's type); a restriction covering the resource withdraws it, whatever gives it (R-P8), and
without a resource only a restriction at scope `all` does. tests/projections/test_access_parity.py compares both on
random histories.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from domain.permissions import resource_type_of, scope_rank, widest

# Scopes that cover a resource only through its assignment (R-P4); `team` adds the member's reports (R-H1).
ASSIGNMENT_SCOPES = frozenset({"assigned", "team"})
RESTRICTION = "restriction"


@dataclass(frozen=True)
class Holding:
    """One source giving (or, a restriction, withdrawing) one permission at one scope: a history row valid at the
    instant asked."""

    scope: str
    resource_type: str | None
    resource_id: str | None
    source_kind: str
    source_id: str
    from_position: int = 0

    @property
    def withdraws(self) -> bool:
        return self.source_kind == RESTRICTION


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


class Place(Protocol):
    """The resource asked about, at the instant asked: each answer is looked up only when a holding needs it."""

    def assignee(self) -> str | None:
        """Who the resource is assigned to."""

    def lineage(self) -> frozenset[tuple[str, str]]:
        """The resource and its ancestors (R-H2)."""

    def manages(self, user_id: str, member_id: str) -> bool:
        """True if `member_id` is `user_id` or below them in the reporting lines (R-H1; the owner is above all)."""


def _resource_of(h: Holding) -> dict[str, str] | None:
    return None if h.resource_type is None else {"type": h.resource_type, "id": h.resource_id}


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
        elif h.source_kind == "role_grant":
            entry = {"kind": "role_grant", "grant_id": h.source_id, "resource": _resource_of(h)}
            out.append((1, h.from_position, entry))
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
    restriction_id: str | None = None,
) -> dict[str, Any]:
    """A Decision as API.md shapes it."""
    return {
        "allowed": allowed,
        "scope": scope,
        "reason": reason,
        "via": via,
        "restriction_id": restriction_id,
        "as_of": as_of,
        "position": position,
    }


def withdrawing(user_id: str, resource: tuple[str, str] | None, h: Holding, place: Place | None) -> bool:
    """True if restriction `h` withdraws the permission there (`Access.restriction_for`)."""
    if h.scope == "all":
        return True
    if resource is None or place is None:
        return False
    if h.scope == "resource":
        return (h.resource_type, h.resource_id) in place.lineage()
    assignee = place.assignee()
    if h.scope == "assigned":
        return assignee == user_id
    return assignee is not None and place.manages(user_id, assignee)


def decide(
    user_id: str,
    permission: str,
    resource: tuple[str, str] | None,
    holdings: list[Holding],
    place: Place | None,
) -> tuple[bool, str | None, str | None, list[dict[str, Any]], str | None]:
    """(allowed, scope, reason, via, restriction_id) for a member holding `holdings` of `permission` at the
    instant asked; `place` answers where the resource sits then (None without a resource)."""
    giving = [h for h in holdings if not h.withdraws]
    if not giving:
        return False, None, "not_permitted", [], None
    for h in sorted((h for h in holdings if h.withdraws), key=lambda h: (h.from_position, h.source_id)):
        if withdrawing(user_id, resource, h, place):
            return False, None, "restricted", [], h.source_id
    if resource is None or place is None:
        return True, widest(h.scope for h in giving), None, via_of(giving), None
    resource_type, resource_id = resource
    typed = resource_type_of(permission)
    covering: list[Holding] = []
    through: dict[str, Any] | None = None
    for h in giving:
        if h.scope == "all" or typed is None:
            covering.append(h)
        elif h.scope == "resource":
            if typed == resource_type and (h.resource_type, h.resource_id) in place.lineage():
                covering.append(h)
        else:
            assignee = place.assignee()
            if assignee is None:
                continue
            if assignee == user_id:
                covering.append(h)
                through = through or {"kind": "assignment", "resource": {"type": resource_type, "id": resource_id}}
            elif h.scope == "team" and place.manages(user_id, assignee):
                covering.append(h)
                if through is None or through["kind"] == "team":
                    through = {"kind": "team", "user_id": assignee}
    if not covering:
        if any(h.scope in ASSIGNMENT_SCOPES for h in giving):
            return False, None, "not_assigned", [], None
        return False, None, "not_permitted", [], None
    via = via_of(covering)
    if through is not None:
        via.append(through)
    return True, widest(h.scope for h in covering), None, via, None


def listings(pairs: Iterable[tuple[str, Holding]]) -> list[dict[str, Any]]:
    """A permission listing (R-L5, members/{u}/permissions) from (permission, holding) pairs, by permission."""
    by_permission: dict[str, list[Holding]] = {}
    for permission, h in pairs:
        by_permission.setdefault(permission, []).append(h)
    out = []
    for permission, hs in sorted(by_permission.items()):
        entry = listing(permission, hs)
        if entry is not None:
            out.append(entry)
    return out


def listing(permission: str, holdings: list[Holding]) -> dict[str, Any] | None:
    """One entry: `{permission, scope, resources?, restrictions?}`, or None when nothing gives it or a restriction
    at scope `all` withdraws it. The named resources are listed when resource grants add something the widest
    scope does not already cover; narrower restrictions are listed, each with what it withdraws (R-P8)."""
    giving = [h for h in holdings if not h.withdraws]
    withdrawn = sorted((h for h in holdings if h.withdraws), key=lambda h: (h.from_position, h.source_id))
    if not giving or any(h.scope == "all" for h in withdrawn):
        return None
    scope = widest(h.scope for h in giving)
    entry: dict[str, Any] = {"permission": permission, "scope": scope}
    if scope is not None and scope_rank(scope) < scope_rank("all"):
        resources = sorted({(h.resource_type, h.resource_id) for h in giving if h.scope == "resource"})
        if resources:
            entry["resources"] = [{"type": t, "id": i} for t, i in resources]
    if withdrawn:
        entry["restrictions"] = [
            {"restriction_id": h.source_id, "scope": h.scope, "resource": _resource_of(h)} for h in withdrawn
        ]
    return entry
