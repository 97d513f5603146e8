"""Grant and assignment commands of the Tenant aggregate (R-G1, R-G2, R-A1, R-A2), a mixin of `Tenant`.

Kept apart only to keep modules short; both are under R-P6 through the aggregate's `check_no_escalation`/`holds`.
"""

from __future__ import annotations

from datetime import datetime

from domain.effective_access import Access, custom_role_catalog, holds
from domain.errors import DomainError, not_found, validation
from domain.permissions import CATALOG, NEVER_GRANTABLE, OWNER, lookup_role, role_permissions
from domain.tenant import events as ev
from domain.tenant.structure import check_scope_shape

MAX_BULK = 10_000


class GrantCommands:
    """Grant and revoke permissions; assign and unassign resources."""

    def grant(
        self,
        *,
        user_id: str,
        permission: str | None = None,
        role: str | None = None,
        scope: str,
        resource: dict[str, str] | None,
        expires_at: datetime | None,
        starts_at: datetime | None = None,
    ) -> str:
        """R-G1: a permission at a scope; or R-P9: a role on one resource (its resource-typed permissions);
        R-G3: from `starts_at` on, if given."""
        self.require("permissions.manage")
        if (permission is None) == (role is None):
            raise validation("give exactly one of permission and role", ("body",))
        if permission is not None and permission not in CATALOG:
            raise validation(f"unknown permission {permission!r}", ("body", "permission"))
        if role is not None:
            wanted, target = self.check_role_grant(role, scope, resource)
        else:
            target = check_scope_shape(permission, scope, resource)
            wanted = [(permission, scope)]
        self.member(user_id)
        if expires_at is not None and expires_at <= self.now:
            raise validation("expires_at must be in the future", ("body", "expires_at"))
        if starts_at is not None and starts_at <= self.now:
            raise validation("starts_at must be in the future", ("body", "starts_at"))
        if starts_at is not None and expires_at is not None and expires_at <= starts_at:
            raise validation("expires_at must come after starts_at", ("body", "expires_at"))
        if permission in NEVER_GRANTABLE:
            raise DomainError("not_grantable", f"{permission} is never granted")
        self.check_no_escalation(wanted, target)
        grant_id = self.next_id("grant")
        self.trigger(
            ev.PermissionGranted,
            grant_id=grant_id,
            user_id=user_id,
            permission=permission,
            role=role,
            scope=scope,
            resource=resource,
            expires_at=expires_at,
            starts_at=starts_at,
        )
        return grant_id

    def check_role_grant(
        self, role: str, scope: str, resource: dict[str, str] | None
    ) -> tuple[list[tuple[str, str]], tuple[str, str]]:
        """R-P9: a role on one resource; what it gives there (for R-P6) and the resource as a pair."""
        catalog = custom_role_catalog(self)
        if lookup_role(role, catalog) is None:
            raise validation(f"unknown role {role!r}", ("body", "role"))
        if scope != "resource" or resource is None:
            raise validation("a role grant's scope is always resource, with a resource", ("body", "scope"))
        if role == OWNER:
            raise DomainError("owner_immutable", "the owner role is never given to anyone else")
        given = [(p, "resource") for p in role_permissions(role, catalog) if CATALOG.get(p)]
        if not given:
            raise validation(f"role {role!r} gives no permission on resources", ("body", "role"))
        return given, (resource["type"], resource["id"])

    def revoke_grant(self, grant_id: str) -> None:
        self.require("permissions.manage")
        grant = self.grants.get(grant_id)
        if grant is None:
            raise not_found("active grant", grant_id)
        self.check_min_admins_after(Access(self, without_grants=[grant_id]))
        self.trigger(ev.PermissionRevoked, grant_id=grant_id, user_id=grant.user_id, reason="revoked")

    # ----------------------------------------------------------------- assignments (R-A1, R-A2)

    def assign(self, resource_type: str, resource_ids: list[str], user_id: str) -> int:
        self.require("leads.assign")
        if not resource_ids or len(resource_ids) > MAX_BULK:
            raise validation(f"resource_ids takes 1 to {MAX_BULK} ids", ("body", "resource_ids"))
        if len(set(resource_ids)) != len(resource_ids):
            raise validation("resource_ids has duplicates", ("body", "resource_ids"))
        self.member(user_id)
        actor = self.actor
        previous = {}
        for resource_id in resource_ids:
            resource = (resource_type, resource_id)
            if not holds(self, actor, "leads.assign", "resource", resource):
                raise DomainError(
                    "forbidden",
                    f"you cannot assign {resource_type}:{resource_id}",
                    missing_permission="leads.assign",
                )
            if resource_type == "lead" and not holds(
                self, user_id, "leads.view_details", "resource", resource, assignee=user_id
            ):
                raise DomainError(
                    "assignee_cannot_access", f"{user_id} could not view the details of lead {resource_id}"
                )
            previous[resource_id] = self.assignments.get(f"{resource_type}:{resource_id}")
        self.trigger(
            ev.ResourcesAssigned,
            resource_type=resource_type,
            resource_ids=list(resource_ids),
            user_id=user_id,
            previous_assignees=previous,
        )
        return len(resource_ids)

    def unassign(self, resource_type: str, resource_id: str) -> None:
        self.require("leads.assign")
        assignee = self.assignments.get(f"{resource_type}:{resource_id}")
        if assignee is None:
            raise not_found("assignment", f"{resource_type}/{resource_id}")
        if not holds(self, self.actor, "leads.assign", "resource", (resource_type, resource_id)):
            raise DomainError("forbidden", "you cannot unassign this resource", missing_permission="leads.assign")
        self.trigger(
            ev.ResourceUnassigned,
            resource_type=resource_type,
            resource_id=resource_id,
            user_id=assignee,
            reason="unassigned",
        )
