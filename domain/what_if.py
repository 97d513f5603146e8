"""What-if (R-R3): a tenant's history replayed in memory under a changed catalog of custom roles, compared with
what really happened, interval by interval.

Pure: it folds the tenant's recorded events (given in order) into a copy of the aggregate and, at every event
that can change access, asks the `Access` rule twice, once with the recorded catalog and once with the changed
one. A difference (a member would have held a permission at a scope, or on a resource, that they did not, or the
other way round) is a change with the interval `[from, until)` it lasted, clipped to the window asked about.
Nothing is recorded and no read model is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from domain.catalog_change import CatalogChange
from domain.due import apply_due_changes, next_due_instant
from domain.effective_access import Access, custom_role_catalog
from domain.errors import validation
from domain.permissions import CATALOG, expand_grant, role_includes
from domain.tenant.metadata import SYSTEM, EventContext, to_json_value

# Events after which effective access may differ; everything else (charges, tokens, renewals, …) leaves it be.
ACCESS_EVENTS = frozenset(
    {
        "TenantOpened",
        "MemberAdded",
        "MemberRoleChanged",
        "MemberRemoved",
        "PermissionGranted",
        "PermissionRevoked",
        "GrantExpired",
        "GrantStarted",
        "RoleDefined",
        "RoleRedefined",
        "RoleDeleted",
        "RestrictionAdded",
        "RestrictionLifted",
        "ResourceParentSet",
    }
)
# These matter only through restrictions at scope `assigned` or `team`, so they count when any restriction exists.
RESTRICTION_CONTEXT_EVENTS = frozenset({"ResourcesAssigned", "ResourceUnassigned", "ReportingLineChanged"})
ROLE_EVENTS = frozenset({"TenantOpened", "RoleDefined", "RoleRedefined", "RoleDeleted"})

Fact = tuple[str, str, str, str | None]  # user_id, permission, scope, "type:id" or None


def fold(tenant: Any, event: Any) -> Any:
    """The aggregate after `event` (the first event creates it)."""
    return event.mutate(tenant)


def access_facts(view: Access, users: Iterable[str]) -> set[Fact]:
    """What each member holds under `view`: every permission at its widest scope (when no restriction withdraws
    it there), and every permission a grant gives on a named resource (R-G1, R-P9)."""
    facts: set[Fact] = set()
    for user_id in users:
        if not view.is_member(user_id):
            continue
        for permission, scope in view.held_scopes(user_id).items():
            if scope != "resource" and view.holds(user_id, permission, scope):
                facts.add((user_id, permission, scope, None))
        for grant in view.grants_of(user_id):
            if grant.scope != "resource":
                continue
            resource = (grant.resource_type, grant.resource_id)
            if grant.permission is not None:
                given = expand_grant(grant.permission, "resource")
            else:
                given = {p: "resource" for p in view.role_permissions(grant.role) if CATALOG.get(p)}
            for permission in given:
                if view.holds(user_id, permission, "resource", resource):
                    facts.add((user_id, permission, "resource", f"{resource[0]}:{resource[1]}"))
    return facts


class _Comparison:
    """The two views of one tenant state, and the members whose access the change can touch."""

    def __init__(self, change: CatalogChange) -> None:
        self.change = change
        self._touching: dict[str, bool] = {}

    def catalog_moved(self) -> None:
        self._touching.clear()

    def _touches(self, role_id: str | None, real: Access, changed: Access) -> bool:
        if role_id is None:
            return False
        known = self._touching.get(role_id)
        if known is None:
            reach = role_includes(role_id, real.roles) | role_includes(role_id, changed.roles)
            known = self._touching[role_id] = bool(reach & self.change.touched)
        return known

    def differences(self, tenant: Any) -> set[tuple[Fact, str]]:
        """(fact, effect) for every fact held in one world and not the other, `gained` under the change."""
        real = Access(tenant)
        changed = Access(tenant, roles=self.change.apply(custom_role_catalog(tenant)))
        users = [
            member.user_id
            for member in tenant.members.values()
            if self._touches(member.role, real, changed)
            or any(self._touches(g.role, real, changed) for g in tenant.grants.values() if g.user_id == member.user_id)
        ]
        if not users:
            return set()
        before, after = access_facts(real, users), access_facts(changed, users)
        return {(f, "gained") for f in after - before} | {(f, "lost") for f in before - after}


def _timeline(events: Iterable[Any], start: datetime, end: datetime) -> Iterator[tuple[datetime, Any, str]]:
    """(instant, tenant, event type) after each step that lies in `[start, end)`; the first step is the tenant as of
    `start`. Changes due but not yet recorded are applied in memory, as an as-of check does (R-C3)."""
    tenant = None
    started = False
    exhausted = True
    for event in events:
        occurred_at = event.occurred_at
        if occurred_at >= end:
            exhausted = False
            break
        if occurred_at > start and not started:
            started = True
            if tenant is not None:
                yield start, tenant, "start"
        tenant = fold(tenant, event)
        if started:
            yield occurred_at, tenant, type(event).__name__
    if tenant is None:
        return
    if exhausted:
        # Nothing was recorded after the last event: what fell due since then is applied here, in memory only.
        while (instant := next_due_instant(tenant, end)) is not None and instant < end:
            apply_due_changes(tenant, instant, EventContext(actor=SYSTEM, occurred_at=instant))
            if instant > start and not started:
                started = True
                yield start, tenant, "start"
            elif started:
                yield instant, tenant, "due"
    if not started:
        yield start, tenant, "start"


def what_if(events: Iterable[Any], change: CatalogChange, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every difference between the recorded history and the history under `change`, within `[start, end)`:
    `{user_id, permission, scope, resource, effect (gained|lost), from, until}`, ordered by `from`."""
    if start >= end:
        raise validation("from must be before to", ("body", "from"))
    comparison = _Comparison(change)
    open_since: dict[tuple[Fact, str], datetime] = {}
    closed: list[tuple[Fact, str, datetime, datetime]] = []
    for instant, tenant, kind in _timeline(events, start, end):
        if kind in ROLE_EVENTS or kind == "start":
            comparison.catalog_moved()
        relevant = kind in ("start", "due") or kind in ACCESS_EVENTS
        if not relevant and not (kind in RESTRICTION_CONTEXT_EVENTS and tenant.restrictions):
            continue
        now = comparison.differences(tenant)
        for key in [k for k in open_since if k not in now]:
            closed.append((*key, open_since.pop(key), instant))
        for key in now:
            open_since.setdefault(key, instant)
    closed.extend((*key, since, end) for key, since in open_since.items())
    closed = [c for c in closed if c[2] < c[3]]
    closed.sort(key=lambda c: (c[2], c[0][0], c[0][1], c[0][3] or "", c[1]))
    return [_change(fact, effect, since, until) for fact, effect, since, until in closed]


def _change(fact: Fact, effect: str, since: datetime, until: datetime) -> dict[str, Any]:
    user_id, permission, scope, resource = fact
    where = None
    if resource is not None:
        resource_type, resource_id = resource.split(":", 1)
        where = {"type": resource_type, "id": resource_id}
    return to_json_value(
        {
            "user_id": user_id,
            "permission": permission,
            "scope": scope,
            "resource": where,
            "effect": effect,
            "from": since,
            "until": until,
        }
    )


def roles_ever_defined(events: Iterable[Any]) -> set[str]:
    """The custom role ids a history defined at some point (what a change may remove or include)."""
    return {event.role_id for event in events if type(event).__name__ == "RoleDefined"}
