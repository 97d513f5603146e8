"""What a member of a tenant holds right now, from the aggregate's state (R-C1 for commands, R-P6, R-M4).

The same rules (`domain.permissions`) drive the projections that answer checks over history; this module is the
aggregate's view of the present, used to decide whether a command is allowed.
"""

from __future__ import annotations

from typing import Any

from domain.permissions import (
    CATALOG,
    expand_grant,
    role_permissions,
    scope_covers,
    scope_rank,
)


def held_scopes(tenant: Any, user_id: str) -> dict[str, str]:
    """Permission → widest scope the member holds it at from their role and active grants (`resource` if only
    through grants on named resources)."""
    member = tenant.members.get(user_id)
    if member is None:
        return {}
    held = dict(role_permissions(member.role))
    for grant in tenant.grants.values():
        if grant.user_id != user_id or grant.permission is None:
            continue
        for permission, scope in expand_grant(grant.permission, grant.scope).items():
            previous = held.get(permission)
            if previous is None or scope_rank(scope) > scope_rank(previous):
                held[permission] = scope
    return held


def _resource_granted(tenant: Any, user_id: str, permission: str, resource_type: str, resource_id: str) -> bool:
    for grant in tenant.grants.values():
        if (
            grant.user_id == user_id
            and grant.permission is not None
            and grant.scope == "resource"
            and grant.resource_type == resource_type
            and grant.resource_id == resource_id
            and permission in expand_grant(grant.permission, "resource")
        ):
            return True
    return False


def holds(
    tenant: Any,
    user_id: str,
    permission: str,
    scope: str = "resource",
    resource: tuple[str, str] | None = None,
    assignee: str | None = None,
) -> bool:
    """True if the member holds `permission` at `scope` or wider; with scope `resource`, on `resource`.

    `assignee` is who the resource is assigned to (defaults to the current assignment): a giver's `assigned`
    scope covers a named resource only while it is assigned to them (R-P6).
    """
    held = held_scopes(tenant, user_id).get(permission)
    if held is None:
        return False
    if scope != "resource":
        return scope_covers(held, scope)
    if resource is None:
        return True
    if held == "all":
        return True
    resource_type, resource_id = resource
    if CATALOG.get(permission) not in (None, resource_type):
        return False
    if assignee is None:
        assignee = tenant.assignments.get(f"{resource_type}:{resource_id}")
    if held in ("assigned", "team") and assignee == user_id:
        return True
    return _resource_granted(tenant, user_id, permission, resource_type, resource_id)


def manages_users(tenant: Any, user_id: str, role: str | None = None, without_grant: str | None = None) -> bool:
    """True if the member holds `users.manage`, or would with `role` and without grant `without_grant` (R-M4).

    Asking before triggering lets a command be rejected with nothing applied (R-X2).
    """
    member = tenant.members.get(user_id)
    if member is None:
        return False
    if "users.manage" in role_permissions(role or member.role):
        return True
    return any(
        grant.user_id == user_id
        and grant.grant_id != without_grant
        and grant.permission is not None
        and "users.manage" in expand_grant(grant.permission, grant.scope)
        for grant in tenant.grants.values()
    )


def user_managers(tenant: Any) -> int:
    """How many active members hold `users.manage` (R-M4), owner included."""
    return sum(1 for user_id in tenant.members if manages_users(tenant, user_id))
