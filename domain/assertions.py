"""Access assertions (R-R4): a tenant's expected access, checked against its history or a changed catalog.

Three forms, as clients write them (`resource` is `{type, id}` or `"type:id"`; `at` defaults to the request's
instant):

- `{user_id, permission, resource?, at?, expect: allow|deny}`: the user may (or may not) do it then;
- `{role, permission, resource?, at?, expect: deny}`: no member whose role is `role` may do it;
- `{permission, resource?, at?, at_most: N}`: at most N members may do it.

Pure: the caller hands in the tenant as it was at each instant (due changes applied, R-C3). Each instant's
tenant is asked once through the `Access` rule, optionally under a `CatalogChange` (R-R3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from domain.catalog_change import CatalogChange
from domain.effective_access import Access, custom_role_catalog
from domain.tenant.metadata import to_json_value

Resource = tuple[str, str] | None


def resource_of(assertion: Mapping[str, Any]) -> Resource:
    """The assertion's resource as a (type, id) pair, or None."""
    resource = assertion.get("resource")
    if resource is None:
        return None
    if isinstance(resource, str):
        kind, _, ident = resource.partition(":")
        return kind, ident
    return resource["type"], resource["id"]


def instant_of(value: Any) -> datetime | None:
    """An assertion's `at` (RFC 3339 text as written, or a datetime) as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def kind_of(assertion: Mapping[str, Any]) -> str:
    """`user`, `role` or `count`."""
    if "at_most" in assertion:
        return "count"
    return "role" if "role" in assertion else "user"


class _Instant:
    """The tenant at one instant, asked through one view; who may do what is computed once per question."""

    def __init__(self, tenant: Any, change: CatalogChange | None) -> None:
        self.tenant = tenant
        roles = change.apply(custom_role_catalog(tenant)) if tenant is not None and change is not None else None
        self.view = Access(tenant, roles=roles) if tenant is not None else None
        self._who: dict[tuple[str, Resource], list[str]] = {}

    def decide(self, user_id: str, permission: str, resource: Resource) -> dict[str, Any]:
        """`{allowed, scope, reason}` as a check would answer (R-C1)."""
        view = self.view
        if view is None or not view.is_member(user_id):
            return {"allowed": False, "scope": None, "reason": "not_a_member"}
        if self.tenant.closed:
            return {"allowed": False, "scope": None, "reason": "tenant_closed"}
        held = view.held_scopes(user_id).get(permission)
        if view.holds(user_id, permission, "resource", resource):
            return {"allowed": True, "scope": held, "reason": None}
        if held is not None and view.restriction_for(user_id, permission, "resource", resource) is not None:
            return {"allowed": False, "scope": None, "reason": "restricted"}
        reason = "not_assigned" if held in ("assigned", "team") and resource is not None else "not_permitted"
        return {"allowed": False, "scope": None, "reason": reason}

    def who_may(self, permission: str, resource: Resource) -> list[str]:
        """Active members allowed `permission` (on `resource`), by user id."""
        key = (permission, resource)
        found = self._who.get(key)
        if found is None:
            members = sorted(self.tenant.members) if self.tenant is not None else []
            found = [u for u in members if self.decide(u, permission, resource)["allowed"]]
            self._who[key] = found
        return found

    def role_of(self, user_id: str) -> str | None:
        member = self.tenant.members.get(user_id) if self.tenant is not None else None
        return member.role if member is not None else None


def _outcome(assertion: Mapping[str, Any], at: _Instant) -> tuple[bool, dict[str, Any]]:
    permission, resource = assertion["permission"], resource_of(assertion)
    kind = kind_of(assertion)
    if kind == "user":
        decision = at.decide(assertion["user_id"], permission, resource)
        expected = assertion.get("expect", "allow") == "allow"
        return decision["allowed"] == expected, decision
    allowed = at.who_may(permission, resource)
    if kind == "role":
        holders = [u for u in allowed if at.role_of(u) == assertion["role"]]
        return not holders, {"members": holders}
    return len(allowed) <= int(assertion["at_most"]), {"count": len(allowed), "members": allowed}


def check_assertions(
    assertions: list[Mapping[str, Any]],
    tenant_at: Callable[[datetime], Any],
    default_at: datetime,
    change: CatalogChange | None = None,
) -> dict[str, Any]:
    """`{passed (all held), checked (how many), failed [{assertion (as given), actual}]}`.

    `tenant_at(instant)` gives the tenant then (None if it did not exist yet); each distinct instant is asked once."""
    instants: dict[datetime, _Instant] = {}
    failed = []
    for assertion in assertions:
        at = instant_of(assertion.get("at")) or default_at
        state = instants.get(at)
        if state is None:
            state = instants[at] = _Instant(tenant_at(at), change)
        ok, actual = _outcome(assertion, state)
        if not ok:
            failed.append({"assertion": assertion, "actual": {**actual, "at": to_json_value(at)}})
    return {"passed": not failed, "checked": len(assertions), "failed": failed}


def failure_line(failure: Mapping[str, Any]) -> str:
    """One line for a failed assertion: it, as written, and what was found."""
    assertion, actual = failure["assertion"], failure["actual"]
    resource = resource_of(assertion)
    on = f" on {resource[0]}:{resource[1]}" if resource else ""
    at = f" at {assertion['at']}" if assertion.get("at") else f" at {actual['at']} (default)"
    permission = assertion["permission"]
    kind = kind_of(assertion)
    if kind == "user":
        expect = assertion.get("expect", "allow")
        verb = "may" if expect == "allow" else "may not"
        found = "allowed" if actual["allowed"] else f"denied ({actual['reason']})"
        return f"FAIL user {assertion['user_id']} {verb} {permission}{on}{at}: expected {expect}, found {found}"
    if kind == "role":
        return (
            f"FAIL no member of role {assertion['role']} may {permission}{on}{at}: found {', '.join(actual['members'])}"
        )
    return f"FAIL at most {assertion['at_most']} members may {permission}{on}{at}: found {actual['count']}" + (
        f" ({', '.join(actual['members'])})" if actual["members"] else ""
    )
