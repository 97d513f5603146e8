"""Effective access as the change feed counts it: the access report's entries (R-L5) flattened into
(permission, scope, resource type, resource id) tuples: `(p, scope, None, None)` for the widest scope held, and
`(p, "resource", type, id)` for each named resource the report lists. Narrower restrictions are notes on an entry in
the report, not entries, so they change nothing here; a restriction at scope `all` removes the entry."""

from __future__ import annotations

from collections.abc import Iterable

from projections.queries.decide import Holding, listing

Access = tuple[str, str, str | None, str | None]


def entries(report_permissions: Iterable[dict]) -> set[Access]:
    """The tuples of one member's `permissions` as the access report lists them."""
    out: set[Access] = set()
    for held in report_permissions:
        permission, scope = held["permission"], held["scope"]
        resources = held.get("resources") or []
        if scope != "resource":
            out.add((permission, scope, None, None))
        for resource in resources:
            out.add((permission, "resource", resource["type"], resource["id"]))
    return out


def effective(permission: str, holdings: list[Holding]) -> set[Access]:
    """What `holdings` (valid together) give of one permission, as the access report would list it."""
    held = listing(permission, holdings)
    return set() if held is None else entries([held])
