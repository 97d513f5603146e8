"""Events of custom roles, restrictions, reporting lines and resource trees (R-P7, R-P8, R-H1, R-H2).

Kept beside `domain.tenant.events` (same base class, same rules: `apply` only changes state) so neither module
grows past one screenful of reading.
"""

from __future__ import annotations

from typing import Any

from domain.tenant.events import TenantEvent
from domain.tenant.records import CustomRole, Restriction


class RoleDefined(TenantEvent):
    role_id: str
    name: str
    includes: list[str]
    permissions: list[dict[str, str]]

    def apply(self, tenant: Any) -> None:
        tenant.custom_roles[self.role_id] = CustomRole(
            self.role_id, self.name, list(self.includes), [[p["permission"], p["scope"]] for p in self.permissions]
        )


class RoleRedefined(TenantEvent):
    """`old` and `new` are whole definitions: {name, includes, permissions [{permission, scope}]}."""

    role_id: str
    old: dict[str, Any]
    new: dict[str, Any]

    def apply(self, tenant: Any) -> None:
        tenant.custom_roles[self.role_id] = CustomRole(
            self.role_id,
            self.new["name"],
            list(self.new["includes"]),
            [[p["permission"], p["scope"]] for p in self.new["permissions"]],
        )


class RoleDeleted(TenantEvent):
    role_id: str

    def apply(self, tenant: Any) -> None:
        del tenant.custom_roles[self.role_id]


class RestrictionAdded(TenantEvent):
    restriction_id: str
    user_id: str
    permission: str
    scope: str
    resource: dict[str, str] | None

    def apply(self, tenant: Any) -> None:
        resource = self.resource or {}
        tenant.restrictions[self.restriction_id] = Restriction(
            self.restriction_id,
            self.user_id,
            self.permission,
            self.scope,
            resource.get("type"),
            resource.get("id"),
            self.actor,
            self.occurred_at,
        )


class RestrictionLifted(TenantEvent):
    restriction_id: str
    user_id: str
    reason: str

    def apply(self, tenant: Any) -> None:
        del tenant.restrictions[self.restriction_id]


class ReportingLineChanged(TenantEvent):
    """`new_reports_to` null means the member reports to the owner (R-H1)."""

    user_id: str
    old_reports_to: str | None
    new_reports_to: str | None
    reason: str

    def apply(self, tenant: Any) -> None:
        tenant.members[self.user_id].reports_to = self.new_reports_to


class ResourceParentSet(TenantEvent):
    """Parents are {type, id} or null (R-H2)."""

    resource_type: str
    resource_id: str
    old_parent: dict[str, str] | None
    new_parent: dict[str, str] | None

    def apply(self, tenant: Any) -> None:
        key = f"{self.resource_type}:{self.resource_id}"
        if self.new_parent is None:
            tenant.parents.pop(key, None)
        else:
            tenant.parents[key] = f"{self.new_parent['type']}:{self.new_parent['id']}"
