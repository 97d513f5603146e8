"""The permission catalog, built-in roles, scopes and implications (R-P2…R-P6).

Plain data and pure functions. Everything else asks this module what a role or a scope means, so the aggregate
(which enforces rules on commands) and the projections (which answer checks) can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LEAD = "lead"

# Permission → the resource type it applies to (None: not resource-typed).
CATALOG: dict[str, str | None] = {
    "marketing.acquisition_booster": None,
    "marketing.ai_studio": None,
    "marketing.lead_magnets": None,
    "marketing.landing_pages": None,
    "marketing.materials": None,
    "leads.list": LEAD,
    "leads.view_details": LEAD,
    "leads.booster": LEAD,
    "leads.assign": LEAD,
    "contacts.create": None,
    "settings.manage": None,
    "users.manage": None,
    "permissions.manage": None,
    "addons.purchase": None,
    "addons.cancel": None,
    "billing.view": None,
    "audit.read": None,
    "subscription.cancel": None,
}

NEVER_GRANTABLE = frozenset({"subscription.cancel"})

# Narrowest first: a scope covers every scope at or before it in this order (R-P4). `team` sits between
# `assigned` and `all` (R-H1) so that it slots in without changing any comparison.
SCOPES: tuple[str, ...] = ("resource", "assigned", "team", "all")
_SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}

# Direct implications (R-P5); the closure is computed below.
IMPLIES: dict[str, tuple[str, ...]] = {
    "leads.view_details": ("leads.list",),
    "leads.booster": ("leads.view_details",),
    "leads.assign": ("leads.list",),
}

OWNER = "owner"


def is_permission(name: str) -> bool:
    """True if `name` is in the catalog."""
    return name in CATALOG


def resource_type_of(permission: str) -> str | None:
    """The resource type a permission applies to, or None."""
    return CATALOG[permission]


def scope_rank(scope: str) -> int:
    """Position of a scope in the covering order (higher covers lower)."""
    return _SCOPE_RANK[scope]


def scope_covers(held: str, wanted: str) -> bool:
    """True if a permission held at `held` scope includes `wanted` (R-P4); `resource` means the same resource."""
    return _SCOPE_RANK[held] >= _SCOPE_RANK[wanted]


def widest(scopes: Iterable[str]) -> str | None:
    """The widest of the given scopes, or None if there are none."""
    best = None
    for scope in scopes:
        if best is None or _SCOPE_RANK[scope] > _SCOPE_RANK[best]:
            best = scope
    return best


def implied_closure(permission: str) -> frozenset[str]:
    """The permission and everything it implies, transitively (R-P5)."""
    return _CLOSURE[permission]


def implying(permission: str) -> frozenset[str]:
    """Every permission whose closure contains `permission`, itself included (used by restrictions, R-P8)."""
    return _IMPLYING[permission]


def _closure(permission: str) -> frozenset[str]:
    seen = {permission}
    todo = [permission]
    while todo:
        for implied in IMPLIES.get(todo.pop(), ()):
            if implied not in seen:
                seen.add(implied)
                todo.append(implied)
    return frozenset(seen)


_CLOSURE = {p: _closure(p) for p in CATALOG}
_IMPLYING = {p: frozenset(q for q in CATALOG if p in _CLOSURE[q]) for p in CATALOG}


@dataclass(frozen=True)
class Role:
    """A role: a name, the roles it includes and the permissions it adds, each with a scope."""

    role_id: str
    name: str
    builtin: bool
    includes: tuple[str, ...] = ()
    permissions: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _all(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, "all") for name in names)


_MARKETING = tuple(p for p in CATALOG if p.startswith("marketing."))

BUILTIN_ROLES: dict[str, Role] = {
    role.role_id: role
    for role in (
        Role("marketing", "Marketing", True, (), _all(*_MARKETING, "leads.list")),
        Role(
            "broker",
            "Broker",
            True,
            (),
            (("leads.list", "assigned"), ("leads.view_details", "assigned"), ("leads.booster", "assigned"))
            + _all("contacts.create"),
        ),
        Role(
            "manager",
            "Manager",
            True,
            ("marketing", "broker"),
            _all("leads.list", "leads.view_details", "leads.booster", "leads.assign"),
        ),
        Role(
            "admin",
            "Admin",
            True,
            ("manager",),
            _all(
                "settings.manage",
                "users.manage",
                "permissions.manage",
                "addons.purchase",
                "addons.cancel",
                "billing.view",
                "audit.read",
            ),
        ),
        Role(OWNER, "Account owner", True, ("admin",), _all("subscription.cancel")),
        Role("auditor", "Auditor", True, (), _all("audit.read", "billing.view")),
    )
}


def is_builtin_role(role_id: str) -> bool:
    """True for the six built-in roles (R-P2)."""
    return role_id in BUILTIN_ROLES


def lookup_role(role_id: str, custom_roles: Mapping[str, Role] | None = None) -> Role | None:
    """A built-in or custom role by id, or None."""
    role = BUILTIN_ROLES.get(role_id)
    if role is None and custom_roles:
        role = custom_roles.get(role_id)
    return role


def role_permissions(role_id: str, custom_roles: Mapping[str, Role] | None = None) -> dict[str, str]:
    """Every permission a role gives (inclusions and implications applied) with the widest scope it gives it."""
    held: dict[str, str] = {}
    seen: set[str] = set()
    todo = [role_id]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        role = lookup_role(current, custom_roles)
        if role is None:
            continue
        todo.extend(role.includes)
        for permission, scope in role.permissions:
            for implied in implied_closure(permission):
                previous = held.get(implied)
                if previous is None or scope_rank(scope) > scope_rank(previous):
                    held[implied] = scope
    return held


def role_includes(role_id: str, custom_roles: Mapping[str, Role] | None = None) -> frozenset[str]:
    """The role and every role it includes, transitively."""
    seen: set[str] = set()
    todo = [role_id]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        role = lookup_role(current, custom_roles)
        if role is not None:
            todo.extend(role.includes)
    return frozenset(seen)


def expand_grant(permission: str, scope: str) -> dict[str, str]:
    """What a permission grant gives: the permission and what it implies, each at the grant's scope (R-P5)."""
    return {implied: scope for implied in implied_closure(permission)}
