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
from functools import cached_property
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
    """Per-view lookups, each built on first use: known leads, leads by assignee, children by parent."""

    def __init__(self, access: Access) -> None:
        self.access = access

    @cached_property
    def known_leads(self) -> frozenset[str]:
        tenant = self.access.tenant
        keys: set[str] = set(tenant.assignments)
        for child, parent in getattr(tenant, "parents", {}).items():
            keys.update((child, parent))
        for record in (*tenant.grants.values(), *self.access.restrictions):
            if getattr(record, "resource_type", None):
                keys.add(resource_key(record.resource_type, record.resource_id))
        return frozenset(k for k in keys if k.startswith(LEAD + ":"))

    @cached_property
    def by_assignee(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key, assignee in self.access.tenant.assignments.items():
            if key.startswith(LEAD + ":"):
                out.setdefault(assignee, set()).add(key)
        return out

    @cached_property
    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for child, parent in getattr(self.access.tenant, "parents", {}).items():
            out.setdefault(parent, []).append(child)
        return out

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
    """A copy of what decides access before a command; reaches in it are computed on demand, once each."""

    def __init__(self, tenant: Any) -> None:
        state = {name: copy.copy(getattr(tenant, name, {})) for name in _STATE}
        state["members"] = {k: copy.copy(v) for k, v in state["members"].items()}
        self.state = SimpleNamespace(owner_id=tenant.owner_id, **state)
        self.view = Access(self.state)
        self._index: _Index | None = None
        self._held: dict[str, dict[str, str]] = {}
        self._reaches: dict[tuple[str, str], Reach] = {}

    @classmethod
    def capture(cls, tenant: Any) -> AccessBefore:
        return cls(tenant)

    def reach(self, user_id: str, permission: str) -> Reach:
        key = (user_id, permission)
        found = self._reaches.get(key)
        if found is None:
            if self._index is None:
                self._index = _Index(self.view)
            held = self._held.get(user_id)
            if held is None:
                held = self._held[user_id] = self.view.held_scopes(user_id)
            found = self._reaches[key] = reach(self.view, self._index, user_id, permission, held.get(permission))
        return found


def suspects(before: Any, after: Any) -> set[str] | None:
    """The members whose reach the command may have changed, or None for "anyone" (a role was redefined or a
    resource moved: that reaches everyone holding it). A member's reach depends on their role, grants and
    restrictions, and, through scope `team`, on everyone below them: so the members touched, and their managers."""
    if before.custom_roles != getattr(after, "custom_roles", {}) or before.parents != getattr(after, "parents", {}):
        return None
    touched: set[str] = set()
    for name in ("members", "grants", "restrictions"):
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        for key in old.keys() | new.keys():
            if old.get(key) != new.get(key):
                touched.update(r.user_id for r in (old.get(key), new.get(key)) if r is not None)
    if before.assignments != after.assignments:
        old, new = before.assignments, after.assignments
        for key in old.keys() | new.keys():
            if old.get(key) != new.get(key):
                touched.update(u for u in (old.get(key), new.get(key)) if u is not None)
    return touched | _managers(before, touched) | _managers(after, touched)


def _managers(state: Any, users: set[str]) -> set[str]:
    """Everyone above `users` in the reporting lines (the owner tops every line, R-H1)."""
    above: set[str] = {state.owner_id}
    for user_id in users:
        seen = {user_id}
        current = state.members.get(user_id)
        while current is not None and current.reports_to and current.reports_to not in seen:
            seen.add(current.reports_to)
            above.add(current.reports_to)
            current = state.members.get(current.reports_to)
    return above


def check_effect(before: AccessBefore, tenant: Any, actor: str) -> None:
    """R-P10: refuse (`escalation`) any gain of anyone that the actor did not hold before the command."""
    after = Access(tenant)
    who = suspects(before.state, tenant)
    index = _Index(after)
    for user_id in sorted(tenant.members if who is None else who & tenant.members.keys()):
        if not after.is_member(user_id):
            continue
        for permission, held in sorted(after.held_scopes(user_id).items()):
            now = reach(after, index, user_id, permission, held)
            if now == NOTHING:
                continue
            levels, leads = gains(before.reach(user_id, permission), now)
            for level in sorted(levels, key=LEVELS.index, reverse=True):
                if not before.view.holds(actor, permission, level):
                    raise _escalation(user_id, permission, level, None)
            if not leads:
                continue
            # The actor's own reach before the command answers "did they hold it on this lead" for every lead at
            # once (the same rule as `Access.holds`, computed once: a bulk assignment gains thousands of leads).
            mine = before.reach(actor, permission)
            lacking = leads & mine.leads if mine.everywhere else leads - mine.leads
            if lacking:
                raise _escalation(user_id, permission, "resource", min(lacking))


def _escalation(user_id: str, permission: str, scope: str, resource: str | None) -> DomainError:
    where = f"on {resource}" if resource else f"at scope {scope}"
    return DomainError(
        "escalation",
        f"this would let {user_id} use {permission} {where}, which you do not hold yourself",
        permission=permission,
        scope=scope,
        **({"resource": dict(zip(("type", "id"), _pair(resource), strict=True))} if resource else {}),
    )
