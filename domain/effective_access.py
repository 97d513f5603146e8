"""What members of a tenant hold right now, from the aggregate's state (R-C1 for commands, R-P6…R-P9, R-H1, R-H2).

The same rules (`domain.permissions`) drive the projections that answer checks over history; this module is the
aggregate's view of the present, used to decide whether a command is allowed. An `Access` can also be asked
"what if" (another role for a member, a member gone, a grant revoked, a role redefined, one more restriction), so
R-M4 is checked before any event is triggered and a rejected command leaves the aggregate untouched (R-X2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from domain.permissions import (
    CATALOG,
    Role,
    expand_grant,
    implied_closure,
    role_permissions,
    scope_covers,
    scope_rank,
)

MAX_DEPTH = 10_000  # a guard against a corrupted parent chain, far above any real hierarchy


def resource_key(resource_type: str, resource_id: str) -> str:
    """The `type:id` key under which assignments and parents are kept."""
    return f"{resource_type}:{resource_id}"


def custom_role_catalog(tenant: Any) -> dict[str, Role]:
    """The tenant's custom roles as `Role` values (R-P7)."""
    return {
        role_id: Role(role_id, r.name, False, tuple(r.includes), tuple((p, s) for p, s in r.permissions))
        for role_id, r in tenant.custom_roles.items()
    }


class Access:
    """The tenant's present access, optionally with hypothetical changes applied."""

    def __init__(
        self,
        tenant: Any,
        *,
        roles: Mapping[str, Role] | None = None,
        member_roles: Mapping[str, str] | None = None,
        removed: Iterable[str] = (),
        without_grants: Iterable[str] = (),
        extra_restrictions: Iterable[Any] = (),
    ) -> None:
        self.tenant = tenant
        self.roles = dict(roles) if roles is not None else custom_role_catalog(tenant)
        self.member_roles = dict(member_roles or {})
        self.removed = set(removed)
        self.without_grants = set(without_grants)
        self.restrictions = [*tenant.restrictions.values(), *extra_restrictions]
        self._role_cache: dict[str, dict[str, str]] = {}

    # ----------------------------------------------------------------- building blocks

    def is_member(self, user_id: str) -> bool:
        return user_id in self.tenant.members and user_id not in self.removed

    def role_of(self, user_id: str) -> str:
        return self.member_roles.get(user_id) or self.tenant.members[user_id].role

    def role_permissions(self, role_id: str) -> dict[str, str]:
        """Permission → widest scope for a role under this view's catalog."""
        held = self._role_cache.get(role_id)
        if held is None:
            held = self._role_cache[role_id] = role_permissions(role_id, self.roles)
        return held

    def grants_of(self, user_id: str) -> list[Any]:
        """The member's started grants (a scheduled one gives nothing yet, R-G3)."""
        return [
            g
            for g in self.tenant.grants.values()
            if g.user_id == user_id and g.grant_id not in self.without_grants and g.starts_at is None
        ]

    def held_scopes(self, user_id: str) -> dict[str, str]:
        """Permission → widest scope from role and grants (`resource` when only through named resources)."""
        if not self.is_member(user_id):
            return {}
        held = dict(self.role_permissions(self.role_of(user_id)))
        for grant in self.grants_of(user_id):
            given = (
                expand_grant(grant.permission, grant.scope)
                if grant.permission is not None
                else {p: "resource" for p in self.role_permissions(grant.role) if CATALOG.get(p)}
            )
            for permission, scope in given.items():
                previous = held.get(permission)
                if previous is None or scope_rank(scope) > scope_rank(previous):
                    held[permission] = scope
        return held

    def lineage(self, resource_type: str, resource_id: str) -> list[str]:
        """The resource's key and its ancestors' keys, nearest first (R-H2)."""
        parents = self.tenant.parents
        chain = [resource_key(resource_type, resource_id)]
        while (parent := parents.get(chain[-1])) is not None and len(chain) < MAX_DEPTH:
            chain.append(parent)
        return chain

    @cached_property
    def _reports(self) -> dict[str, list[str]]:
        below: dict[str, list[str]] = {}
        for member in self.tenant.members.values():
            if member.user_id == self.tenant.owner_id or member.user_id in self.removed:
                continue
            manager = member.reports_to if self.is_member(member.reports_to or "") else self.tenant.owner_id
            below.setdefault(manager, []).append(member.user_id)
        return below

    def team(self, user_id: str) -> set[str]:
        """The member and everyone below them in the reporting lines, transitively (R-H1)."""
        seen = {user_id}
        todo = [user_id]
        while todo:
            for report in self._reports.get(todo.pop(), ()):
                if report not in seen:
                    seen.add(report)
                    todo.append(report)
        return seen

    def _covers_named(self, user_id: str, scope: str, assignee: str | None, lineage: list[str]) -> bool:
        """Whether `scope` of the user reaches a named resource (assignee = who holds it, lineage = its keys)."""
        if scope == "all":
            return True
        if scope == "team":
            return assignee is not None and assignee in self.team(user_id)
        if scope == "assigned":
            return assignee == user_id
        return False

    def restriction_for(
        self,
        user_id: str,
        permission: str,
        scope: str = "resource",
        resource: tuple[str, str] | None = None,
        assignee: str | None = None,
    ) -> Any:
        """The first active restriction that withdraws `permission` there, or None (R-P8: deny overrides)."""
        closure = implied_closure(permission)
        lineage = self.lineage(*resource) if resource else []
        if resource and assignee is None:
            assignee = self.tenant.assignments.get(lineage[0])
        for restriction in self.restrictions:
            if restriction.user_id != user_id or restriction.permission not in closure:
                continue
            if restriction.scope == "all":
                return restriction
            if resource is None:
                # Holding at a scope means holding on all it covers: a narrower restriction overlaps any of
                # `assigned`, `team`, `all` (the member's own leads are in their team), so it withdraws the scope.
                if scope != "resource":
                    return restriction
                continue
            if restriction.scope == "resource":
                if resource_key(restriction.resource_type, restriction.resource_id) in lineage:
                    return restriction
            elif self._covers_named(user_id, restriction.scope, assignee, lineage):
                return restriction
        return None

    # ----------------------------------------------------------------- the question

    def holds(
        self,
        user_id: str,
        permission: str,
        scope: str = "resource",
        resource: tuple[str, str] | None = None,
        assignee: str | None = None,
    ) -> bool:
        """True if the member holds `permission` at `scope` or wider; with scope `resource`, on `resource`.

        `assignee` is who the resource is (or would be) assigned to, defaulting to the current assignment: an
        `assigned` or `team` scope reaches a named resource only through it (R-P6, R-A2).
        """
        held = self.held_scopes(user_id).get(permission)
        if held is None:
            return False
        if resource is not None and assignee is None:
            assignee = self.tenant.assignments.get(resource_key(*resource))
        if self.restriction_for(user_id, permission, scope, resource, assignee) is not None:
            return False
        if scope != "resource":
            return scope_covers(held, scope)
        if resource is None or held == "all" or CATALOG.get(permission) is None:
            return True
        lineage = self.lineage(*resource)
        if self._covers_named(user_id, held, assignee, lineage):
            return True
        return resource[0] == CATALOG[permission] and self._granted_on(user_id, permission, lineage)

    def _granted_on(self, user_id: str, permission: str, lineage: list[str]) -> bool:
        """A grant or role grant on the resource or one of its ancestors gives `permission` (R-P9, R-H2)."""
        for grant in self.grants_of(user_id):
            if grant.scope != "resource" or resource_key(grant.resource_type, grant.resource_id) not in lineage:
                continue
            if grant.permission is not None:
                if permission in expand_grant(grant.permission, "resource"):
                    return True
            elif permission in self.role_permissions(grant.role):
                return True
        return False

    def holds_below(self, user_id: str, permission: str, resource: tuple[str, str]) -> bool:
        """True if the member holds `permission` on every resource of its type at or below `resource`: at scope
        all or by a grant on it or an ancestor, with no restriction reaching anything there (R-P6 for R-P9).

        A role granted on a container gives its permissions on all below it, so the giver must hold them there;
        an `assigned` or `team` scope covers single assigned resources, never a whole subtree.
        """
        held = self.held_scopes(user_id).get(permission)
        if held is None or self._restricted_below(user_id, permission, resource):
            return False
        return held == "all" or self._granted_on(user_id, permission, self.lineage(*resource))

    def _restricted_below(self, user_id: str, permission: str, resource: tuple[str, str]) -> Any:
        """The first restriction withdrawing `permission` on the resource, an ancestor or anything below it."""
        closure = implied_closure(permission)
        key = resource_key(*resource)
        lineage = self.lineage(*resource)
        for restriction in self.restrictions:
            if restriction.user_id != user_id or restriction.permission not in closure:
                continue
            if restriction.scope == "all":
                return restriction
            if restriction.scope == "resource":
                restricted = (restriction.resource_type, restriction.resource_id)
                if resource_key(*restricted) in lineage or key in self.lineage(*restricted):
                    return restriction
                continue
            reach = self.team(user_id) if restriction.scope == "team" else {user_id}
            for assigned, assignee in self.tenant.assignments.items():
                if assignee in reach and key in self.lineage(*assigned.split(":", 1)):
                    return restriction
        return None

    def may_give(self, user_id: str, permission: str, scope: str, resource: tuple[str, str] | None = None) -> bool:
        """R-P6: the member holds `permission` at `scope` or wider (on `resource`); given on a resource of another
        type (a role grant on a container, R-P9), on everything of its type below it."""
        if resource is not None and CATALOG.get(permission) not in (None, resource[0]):
            return self.holds_below(user_id, permission, resource)
        return self.holds(user_id, permission, scope, resource)

    def manages_users(self, user_id: str) -> bool:
        """Whether the member holds `users.manage` (R-M4)."""
        return self.holds(user_id, "users.manage", "all")

    def user_managers(self) -> int:
        """How many active members hold `users.manage`, owner included."""
        return sum(1 for user_id in self.tenant.members if self.is_member(user_id) and self.manages_users(user_id))


def holds(
    tenant: Any,
    user_id: str,
    permission: str,
    scope: str = "resource",
    resource: tuple[str, str] | None = None,
    assignee: str | None = None,
) -> bool:
    """`Access(tenant).holds(...)`: the present, without hypotheticals."""
    return Access(tenant).holds(user_id, permission, scope, resource, assignee)


def held_scopes(tenant: Any, user_id: str) -> dict[str, str]:
    """`Access(tenant).held_scopes(user_id)`."""
    return Access(tenant).held_scopes(user_id)


def user_managers(tenant: Any) -> int:
    """How many active members hold `users.manage` (R-M4), owner included."""
    return Access(tenant).user_managers()


def manages_users(tenant: Any, user_id: str, role: str | None = None, without_grant: str | None = None) -> bool:
    """True if the member holds `users.manage`, or would with `role` and without grant `without_grant` (R-M4)."""
    view = Access(
        tenant,
        member_roles={user_id: role} if role else None,
        without_grants=[without_grant] if without_grant else (),
    )
    return view.is_member(user_id) and view.manages_users(user_id)
