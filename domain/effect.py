"""R-P10: no escalation by effect, one check for every command.

Before a command, `AccessBefore.capture` keeps a copy of what decides access (members, roles, grants,
restrictions, reporting lines, resource trees, assignments). After the command has triggered its events but before
anything is saved, `check_effect` compares what every member could do then and now: each gain (a permission at a
scope, or on a known lead) must be held by the actor before the command, at that scope or wider (R-P6's meaning of
"hold", read through `Access.holds`); otherwise `escalation` and the caller saves nothing.

A member's reach over one permission is the scopes they hold it at (`levels`) and the known leads it covers —
either a finite set, or "every lead except these" for a holder at scope `all`. Leads the tenant never named are
covered only through scope `all`, so comparing levels covers them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from domain.effective_access import Access, resource_key
from domain.errors import DomainError
from domain.permissions import CATALOG, LEAD, expand_grant, implied_closure, scope_covers

LEVELS = ("assigned", "team", "all")
_STATE = ("members", "grants", "restrictions", "parents", "assignments", "custom_roles")


@dataclass(frozen=True)
class Reach:
    """What one member can do with one permission: scopes held, and leads covered (or, `everywhere`, not)."""

    levels: frozenset[str]
    everywhere: bool
    leads: frozenset[str]


NOTHING = Reach(frozenset(), False, frozenset())


class _Index:
    """Per-view lookups built once: known leads, leads by assignee, children by parent."""

    def __init__(self, access: Access) -> None:
        tenant = access.tenant
        keys: set[str] = set(tenant.assignments)
        for child, parent in getattr(tenant, "parents", {}).items():
            keys.update((child, parent))
        for record in (*tenant.grants.values(), *access.restrictions):
            if getattr(record, "resource_type", None):
                keys.add(resource_key(record.resource_type, record.resource_id))
        self.known_leads = frozenset(k for k in keys if k.startswith(LEAD + ":"))
        self.by_assignee: dict[str, set[str]] = {}
        for key, assignee in tenant.assignments.items():
            if key.startswith(LEAD + ":"):
                self.by_assignee.setdefault(assignee, set()).add(key)
        self.children: dict[str, list[str]] = {}
        for child, parent in getattr(tenant, "parents", {}).items():
            self.children.setdefault(parent, []).append(child)

    def leads_at_or_below(self, key: str) -> set[str]:
        found, todo, seen = set(), [key], {key}
        while todo:
            current = todo.pop()
            if current.startswith(LEAD + ":"):
                found.add(current)
            for child in self.children.get(current, ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return found


def _pair(key: str) -> tuple[str, str]:
    resource_type, resource_id = key.split(":", 1)
    return resource_type, resource_id


def reach(access: Access, index: _Index, user_id: str, permission: str, held: str | None) -> Reach:
    """The member's reach over `permission` in this view (R-C1 over every known lead, R-P4 for the rest)."""
    if held is None:
        return NOTHING
    closure = implied_closure(permission)
    restricted = [r for r in access.restrictions if r.user_id == user_id and r.permission in closure]
    if any(r.scope == "all" for r in restricted):
        return NOTHING
    levels = frozenset(s for s in LEVELS if scope_covers(held, s))
    if CATALOG.get(permission) != LEAD:
        return Reach(levels, False, frozenset())
    if held == "all":
        if not restricted:
            return Reach(levels, True, frozenset())
        denied = (k for k in index.known_leads if not access.holds(user_id, permission, "resource", _pair(k)))
        return Reach(levels, True, frozenset(denied))
    candidates: set[str] = set()
    if held in ("team", "assigned"):
        for member in access.team(user_id) if held == "team" else {user_id}:
            candidates |= index.by_assignee.get(member, set())
    for grant in access.grants_of(user_id):
        if grant.scope != "resource" or not grant.resource_type:
            continue
        gives = (
            permission in expand_grant(grant.permission, "resource")
            if grant.permission is not None
            else permission in access.role_permissions(grant.role)
        )
        if gives:
            candidates |= index.leads_at_or_below(resource_key(grant.resource_type, grant.resource_id))
    if restricted:
        candidates = {k for k in candidates if access.holds(user_id, permission, "resource", _pair(k))}
    return Reach(levels, False, frozenset(candidates))


def reaches(access: Access) -> dict[tuple[str, str], Reach]:
    """(user, permission) → reach, for every active member and every permission they hold."""
    index = _Index(access)
    out = {}
    for user_id in access.tenant.members:
        if not access.is_member(user_id):
            continue
        for permission, held in access.held_scopes(user_id).items():
            found = reach(access, index, user_id, permission, held)
            if found != NOTHING:
                out[(user_id, permission)] = found
    return out


def gains(before: Reach, after: Reach) -> tuple[frozenset[str], frozenset[str]]:
    """The scopes and the known leads `after` reaches that `before` did not."""
    levels = after.levels - before.levels
    if after.everywhere:
        # Newly everywhere means newly at scope `all`: the level gain covers every lead.
        leads = before.leads - after.leads if before.everywhere else frozenset()
    elif before.everywhere:
        leads = after.leads & before.leads
    else:
        leads = after.leads - before.leads
    return levels, leads


class AccessBefore:
    """A copy of what decides access before a command, and the reaches it gives."""

    def __init__(self, tenant: Any) -> None:
        state = {name: copy.copy(getattr(tenant, name, {})) for name in _STATE}
        state["members"] = {k: copy.copy(v) for k, v in state["members"].items()}
        self.view = Access(SimpleNamespace(owner_id=tenant.owner_id, **state))
        self.reaches = reaches(self.view)

    @classmethod
    def capture(cls, tenant: Any) -> AccessBefore:
        return cls(tenant)


def check_effect(before: AccessBefore, tenant: Any, actor: str) -> None:
    """R-P10: refuse (`escalation`) any gain of anyone that the actor did not hold before the command."""
    after = reaches(Access(tenant))
    for (user_id, permission), now in sorted(after.items()):
        levels, leads = gains(before.reaches.get((user_id, permission), NOTHING), now)
        for level in sorted(levels, key=LEVELS.index, reverse=True):
            if not before.view.holds(actor, permission, level):
                raise _escalation(user_id, permission, level, None)
        for key in sorted(leads):
            if not before.view.holds(actor, permission, "resource", _pair(key)):
                raise _escalation(user_id, permission, "resource", key)


def _escalation(user_id: str, permission: str, scope: str, resource: str | None) -> DomainError:
    where = f"on {resource}" if resource else f"at scope {scope}"
    return DomainError(
        "escalation",
        f"this would let {user_id} use {permission} {where}, which you do not hold yourself",
        permission=permission,
        scope=scope,
        **({"resource": dict(zip(("type", "id"), _pair(resource), strict=True))} if resource else {}),
    )
