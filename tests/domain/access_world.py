"""Shorthands for the issue-6 unit tests: custom roles, restrictions, role grants, reporting lines, resource trees.

Every shorthand goes through `Sim.do`, so a rejection is checked to change nothing (R-X2); `Sim.expect_rejection` is
used directly where a test expects one.
"""

from __future__ import annotations

from typing import Any

from domain.effective_access import Access
from tests.domain.helpers import OWNER, Sim


def res(key: str) -> dict[str, str]:
    """A resource body from `type:id`."""
    resource_type, resource_id = key.split(":", 1)
    return {"type": resource_type, "id": resource_id}


def pair(key: str) -> tuple[str, str]:
    """A (type, id) pair from `type:id`, as `domain.effective_access` takes resources."""
    resource_type, resource_id = key.split(":", 1)
    return resource_type, resource_id


def perms(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    """A role's permission list from (permission, scope) pairs."""
    return [{"permission": p, "scope": s} for p, s in pairs]


def definition(*pairs: tuple[str, str], includes: tuple[str, ...] = (), name: str = "Role") -> dict[str, Any]:
    """Keyword arguments of define_role/redefine_role (role_id apart)."""
    return {"name": name, "includes": list(includes), "permissions": perms(*pairs)}


def define(sim: Sim, role_id: str, *pairs: tuple[str, str], includes: tuple[str, ...] = (), by: str = OWNER) -> str:
    """Define a custom role (R-P7) as `by`."""
    return sim.do(by, "define_role", role_id=role_id, **definition(*pairs, includes=includes, name=role_id.title()))


def redefine(sim: Sim, role_id: str, *pairs: tuple[str, str], includes: tuple[str, ...] = (), by: str = OWNER) -> None:
    """Redefine a custom role (R-P7) as `by`."""
    sim.do(by, "redefine_role", role_id, **definition(*pairs, includes=includes, name=role_id.title()))


def grant_args(sim: Sim, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of `grant`: billing.view at all for bea unless overridden."""
    return {
        "user_id": "bea",
        "permission": None,
        "role": None,
        "scope": "all",
        "resource": None,
        "expires_at": None,
        **overrides,
    }


def role_grant(sim: Sim, user_id: str, role: str, resource: str, by: str = OWNER) -> str:
    """Grant a role on one resource (R-P9) as `by`."""
    return sim.do(by, "grant", **grant_args(sim, user_id=user_id, role=role, scope="resource", resource=res(resource)))


def restrict(
    sim: Sim, user_id: str, permission: str, scope: str = "all", resource: str | None = None, by: str = OWNER
) -> str:
    """Restrict a member (R-P8) as `by`; the restriction id."""
    body = res(resource) if resource else None
    return sim.do(by, "restrict", user_id=user_id, permission=permission, scope=scope, resource=body)


def set_parent(sim: Sim, child: str, parent: str | None, by: str = OWNER) -> None:
    """Give a resource a parent, or none (R-H2), as `by`."""
    sim.do(by, "set_resource_parent", *pair(child), res(parent) if parent else None)


def chain(sim: Sim, *keys: str) -> None:
    """Parent each resource under the one before it: chain(sim, "account:A", "location:B") puts B under A."""
    for parent, child in zip(keys, keys[1:], strict=False):
        set_parent(sim, child, parent)


def reports(sim: Sim, user_id: str, manager: str | None, by: str = OWNER) -> None:
    """Set a member's reporting line (R-H1) as `by`."""
    sim.do(by, "set_manager", user_id, manager)


def can(sim: Sim, user_id: str, permission: str, where: str | None = None, scope: str = "resource") -> bool:
    """`Access.holds` on the present state: at `scope`, or on the resource `where` (`type:id`)."""
    return Access(sim.tenant).holds(user_id, permission, scope, pair(where) if where else None)


def world(**kwargs: Any) -> Sim:
    """Owner olga, admin ann, manager mo, broker bea, marketing mia; 10 seats unless told otherwise."""
    sim = Sim(**{"included_seats": 10, **kwargs})
    for user_id, role in [("ann", "admin"), ("mo", "manager"), ("bea", "broker"), ("mia", "marketing")]:
        sim.add(user_id, role)
    return sim


def delegate(sim: Sim, user_id: str, *permissions: str) -> None:
    """Give a member management permissions at scope all by grant (an admin-like delegate with a narrow role)."""
    for permission in permissions:
        sim.grant(user_id, permission)


LEADS = ("leads.list", "leads.view_details", "leads.booster", "leads.assign")


def rights(sim: Sim, user_id: str, where: str) -> set[str]:
    """Which of the lead permissions `user_id` holds on `where` (TYPE:ID)."""
    return {p for p in LEADS if can(sim, user_id, p, where)}
