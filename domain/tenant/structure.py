"""Custom roles, restrictions, reporting lines and resource trees: commands of the Tenant aggregate (a mixin).

R-P7 (custom roles), R-P8 (restrictions), R-H1 (reporting lines) and R-H2 (resource parents), each under R-P6
(no escalation) and R-M4 (min_admins), checked before anything is triggered so a rejection changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from domain.effective_access import Access, custom_role_catalog, resource_key
from domain.errors import DomainError, not_found, validation
from domain.permissions import CATALOG, NEVER_GRANTABLE, OWNER, SCOPES, Role, is_builtin_role, role_includes
from domain.tenant import structure_events as ae

ROLE_ID = re.compile(r"^[a-z0-9_-]{2,40}$")


def _resource_dict(key: str | None) -> dict[str, str] | None:
    if key is None:
        return None
    resource_type, resource_id = key.split(":", 1)
    return {"type": resource_type, "id": resource_id}


class AccessCommands:
    """Commands that shape what roles, restrictions and hierarchies mean in one tenant."""

    # ----------------------------------------------------------------- custom roles (R-P7)

    def check_definition(self, role_id: str, name: str, includes: list[str], permissions: list[dict[str, str]]) -> Role:
        """Validate a custom role definition; the role it would be."""
        if not name or len(name) > 200:
            raise validation("name takes 1 to 200 characters", ("body", "name"))
        catalog = custom_role_catalog(self)
        for included in includes:
            if included == OWNER:
                raise DomainError("owner_immutable", "no role may include the owner role")
            if included == role_id:
                raise DomainError("role_cycle", f"role {role_id!r} would include itself")
            if not is_builtin_role(included) and included not in catalog:
                raise validation(f"unknown role {included!r} in includes", ("body", "includes"))
        pairs = []
        for entry in permissions:
            permission, scope = entry.get("permission"), entry.get("scope", "all")
            if permission not in CATALOG:
                raise validation(f"unknown permission {permission!r}", ("body", "permissions"))
            if scope not in SCOPES or scope == "resource":
                raise validation(
                    f"a role gives permissions at all, team or assigned, not {scope!r}", ("body", "permissions")
                )
            if CATALOG[permission] is None and scope != "all":
                raise validation(f"{permission} applies to no resource: its scope is all", ("body", "permissions"))
            if permission in NEVER_GRANTABLE:
                raise DomainError("not_grantable", f"{permission} is never given")
            pairs.append((permission, scope))
        role = Role(role_id, name, False, tuple(includes), tuple(pairs))
        catalog[role_id] = role
        if any(role_id in role_includes(included, catalog) for included in includes):
            raise DomainError("role_cycle", f"role {role_id!r} would include itself")
        return role

    def _definition_of(self, role_id: str) -> dict[str, Any]:
        role = self.custom_roles[role_id]
        return {
            "name": role.name,
            "includes": list(role.includes),
            "permissions": [{"permission": p, "scope": s} for p, s in role.permissions],
        }

    def define_role(self, *, role_id: str, name: str, includes: list[str], permissions: list[dict[str, str]]) -> str:
        self.require("permissions.manage")
        if not ROLE_ID.match(role_id) or is_builtin_role(role_id):
            raise validation("role_id takes 2 to 40 of [a-z0-9_-] and is no built-in role's name", ("body", "role_id"))
        if role_id in self.custom_roles:
            raise DomainError("conflict", f"role {role_id!r} is already defined; redefine it with PUT")
        role = self.check_definition(role_id, name, includes, permissions)
        view = Access(self, roles={**custom_role_catalog(self), role_id: role})
        self.check_no_escalation(view.role_permissions(role_id).items())
        self.trigger(
            ae.RoleDefined,
            role_id=role_id,
            name=name,
            includes=list(includes),
            permissions=[{"permission": p, "scope": s} for p, s in role.permissions],
        )
        return role_id

    def custom_role(self, role_id: str) -> Any:
        if is_builtin_role(role_id):
            raise validation(f"{role_id} is a built-in role; built-in roles cannot be changed", ("path", "role_id"))
        role = self.custom_roles.get(role_id)
        if role is None:
            raise not_found("role", role_id)
        return role

    def redefine_role(self, role_id: str, *, name: str, includes: list[str], permissions: list[dict[str, str]]) -> None:
        self.require("permissions.manage")
        self.custom_role(role_id)
        role = self.check_definition(role_id, name, includes, permissions)
        catalog = {**custom_role_catalog(self), role_id: role}
        carried = Access(self, roles=catalog).role_permissions(role_id)
        self.check_no_escalation(carried.items())
        # A role granted on a resource (itself or through an including role) gives the new definition's
        # resource-typed permissions on everything below that resource, whatever their scope in the role (R-P9).
        on_resources = [(p, "resource") for p in carried if CATALOG.get(p)]
        for grant in self.grants.values():
            if grant.role is not None and role_id in role_includes(grant.role, catalog):
                self.check_no_escalation(on_resources, (grant.resource_type, grant.resource_id))
        self.check_min_admins_after(Access(self, roles=catalog))
        new = {
            "name": name,
            "includes": list(includes),
            "permissions": [{"permission": p, "scope": s} for p, s in role.permissions],
        }
        self.trigger(ae.RoleRedefined, role_id=role_id, old=self._definition_of(role_id), new=new)

    def delete_role(self, role_id: str) -> None:
        self.require("permissions.manage")
        self.custom_role(role_id)
        holders = [m.user_id for m in self.members.values() if m.role == role_id]
        holders += [i.invitation_id for i in self.pending_invitations if i.role == role_id]
        holders += [g.grant_id for g in self.grants.values() if g.role == role_id]
        holders += [r.role_id for r in self.custom_roles.values() if role_id in r.includes]
        if holders:
            raise DomainError("role_in_use", f"role {role_id!r} is still held or included by {', '.join(holders[:5])}")
        self.trigger(ae.RoleDeleted, role_id=role_id)

    # ----------------------------------------------------------------- restrictions (R-P8)

    def restrict(
        self, *, user_id: str, permission: str, scope: str = "all", resource: dict[str, str] | None = None
    ) -> str:
        self.require("permissions.manage")
        if permission not in CATALOG:
            raise validation(f"unknown permission {permission!r}", ("body", "permission"))
        self.member(user_id)
        target = check_scope_shape(permission, scope, resource)
        if user_id == self.owner_id:
            raise DomainError("owner_immutable", "the owner cannot be restricted")
        self.check_no_escalation([(permission, scope)], target)
        restriction_id = self.next_id("restr")
        restriction = _Pending(restriction_id, user_id, permission, scope, *(target or (None, None)))
        self.check_min_admins_after(Access(self, extra_restrictions=[restriction]))
        self.trigger(
            ae.RestrictionAdded,
            restriction_id=restriction_id,
            user_id=user_id,
            permission=permission,
            scope=scope,
            resource=resource,
        )
        return restriction_id

    def lift_restriction(self, restriction_id: str) -> None:
        self.require("permissions.manage")
        restriction = self.restrictions.get(restriction_id)
        if restriction is None:
            raise not_found("active restriction", restriction_id)
        self.trigger(ae.RestrictionLifted, restriction_id=restriction_id, user_id=restriction.user_id, reason="lifted")

    # ----------------------------------------------------------------- reporting lines (R-H1)

    def set_manager(self, user_id: str, reports_to: str | None) -> None:
        self.require("users.manage")
        member = self.member(user_id)
        if reports_to is not None:
            self.member(reports_to)
            if user_id == self.owner_id or reports_to == user_id or reports_to in Access(self).team(user_id):
                raise DomainError("hierarchy_cycle", f"{user_id} cannot report to {reports_to}: that is a cycle")
        if member.reports_to == reports_to:
            return
        self.trigger(
            ae.ReportingLineChanged,
            user_id=user_id,
            old_reports_to=member.reports_to,
            new_reports_to=reports_to,
            reason="set",
        )

    def move_reports_up(self, user_id: str) -> None:
        """Before a member leaves: whoever reported to them reports to their manager from now on (R-H1)."""
        manager = self.members[user_id].reports_to
        for report in sorted(m.user_id for m in self.members.values() if m.reports_to == user_id):
            self.trigger(
                ae.ReportingLineChanged,
                user_id=report,
                old_reports_to=user_id,
                new_reports_to=manager,
                reason="manager_removed",
            )

    def lift_restrictions_of(self, user_id: str, reason: str) -> None:
        for restriction in [r for r in self.restrictions.values() if r.user_id == user_id]:
            self.trigger(
                ae.RestrictionLifted, restriction_id=restriction.restriction_id, user_id=user_id, reason=reason
            )

    # ----------------------------------------------------------------- resource trees (R-H2)

    def set_resource_parent(self, resource_type: str, resource_id: str, parent: dict[str, str] | None) -> None:
        self.require("settings.manage")
        key = resource_key(resource_type, resource_id)
        if parent is not None:
            parent_key = resource_key(parent["type"], parent["id"])
            if key in Access(self).lineage(parent["type"], parent["id"]):
                raise DomainError("hierarchy_cycle", f"{parent_key} is {key} or below it: that is a cycle")
        old = self.parents.get(key)
        if old == (None if parent is None else resource_key(parent["type"], parent["id"])):
            return
        self.trigger(
            ae.ResourceParentSet,
            resource_type=resource_type,
            resource_id=resource_id,
            old_parent=_resource_dict(old),
            new_parent=parent,
        )


class _Pending:
    """A restriction not yet recorded, for the R-M4 what-if."""

    def __init__(
        self,
        restriction_id: str,
        user_id: str,
        permission: str,
        scope: str,
        resource_type: str | None,
        resource_id: str | None,
    ) -> None:
        self.restriction_id = restriction_id
        self.user_id = user_id
        self.permission = permission
        self.scope = scope
        self.resource_type = resource_type
        self.resource_id = resource_id


def check_scope_shape(permission: str, scope: str, resource: dict[str, str] | None) -> tuple[str, str] | None:
    """Validate a scope and resource for `permission` (grants and restrictions); the resource as a pair.

    A permission that applies to resources (`leads.*`) may name a resource of any type: on a container such as
    `location:B` it covers the resources of its type below it (R-H2: "a grant … on a resource covers its
    descendants"), as a role grant there does (R-P9). A permission of no resource type is held at scope `all` only.
    """
    if scope not in SCOPES:
        raise validation(f"unknown scope {scope!r}", ("body", "scope"))
    resource_type = CATALOG[permission]
    if scope == "resource":
        if resource is None:
            raise validation("scope resource needs a resource", ("body", "resource"))
        if resource_type is None:
            raise validation(f"{permission} applies to no resource: its scope is all", ("body", "scope"))
        return (resource["type"], resource["id"])
    if resource is not None:
        raise validation("a resource is given only with scope resource", ("body", "resource"))
    if resource_type is None and scope != "all":
        raise validation(f"{permission} applies to no resource: its scope is all", ("body", "scope"))
    return None
