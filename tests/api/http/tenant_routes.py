"""Every tenant-scoped route of the app, filled with real ids and valid bodies, for the matrix tests (R-X5, R-T5).

Routes are enumerated from the app itself, so a route added later is covered without touching the tests; a new
path parameter or a new route with a body fails loudly until it is given an id or a body here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api.http.client import Api

TENANT_PREFIX = "/v1/tenants/{tenant_id}"
PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Route:
    """One method on one path template."""

    method: str
    template: str
    has_body: bool

    @property
    def is_command(self) -> bool:
        return self.method != "GET"

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def tenant_routes(app: FastAPI) -> list[Route]:
    """Every route below /v1/tenants/{tenant_id}, GET and commands, in a stable order.

    Read from the app's OpenAPI document, which FastAPI builds from every route it serves (the route objects
    themselves nest per included router in recent FastAPI versions)."""
    paths = app.openapi()["paths"]
    routes = [
        Route(method.upper(), template, "requestBody" in operation)
        for template, item in paths.items()
        if template.startswith(TENANT_PREFIX)
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]
    assert routes, "no tenant route found: the enumeration is broken"
    return sorted(routes, key=lambda r: (r.template, r.method))


@dataclass
class World:
    """A tenant with something behind every kind of id a path can name."""

    tenant_id: str
    owner: str
    admin: str
    broker: str
    ids: dict[str, str]


def populate(api: Api, tenant_id: str, tag: str) -> World:
    """Open `tenant_id` with an owner, an admin and a broker (user ids carry `tag`), an add-on, an invitation, a
    grant, a custom role, a restriction, a second token, an assignment and a resource parent."""
    api.open_tenant(tenant_id)
    owner = f"owner-{tenant_id}"
    admin, broker = f"admin-{tag}", f"broker-{tag}"
    api.add_member(admin, "admin", tenant_id=tenant_id, by=owner)
    api.add_member(broker, "broker", tenant_id=tenant_id, by=owner)
    base = f"/v1/tenants/{tenant_id}"

    def ok(answer: Any) -> dict[str, Any]:
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    addon_id = ok(api.post(f"{base}/addons", owner, json={"kind": "user-seats"}))["addon"]["addon_id"]
    invitation = ok(api.post(f"{base}/invitations", owner, json={"email": f"guest@{tag}.example", "role": "broker"}))
    grant = ok(
        api.post(f"{base}/grants", owner, json={"user_id": broker, "permission": "billing.view", "scope": "all"})
    )
    role = {"role_id": "reviewer", "name": "Reviewer", "includes": [], "permissions": [_perm("audit.read")]}
    ok(api.post(f"{base}/roles", owner, json=role))
    restricted = ok(api.post(f"{base}/restrictions", owner, json={"user_id": broker, "permission": "leads.booster"}))
    token_id = ok(api.post(f"{base}/tokens", broker, json={"label": "second"}))["token_id"]
    assignment = {"resource_type": "lead", "resource_ids": ["lead-1", "lead-2"], "user_id": broker}
    ok(api.post(f"{base}/assignments", owner, json=assignment))
    ok(api.put(f"{base}/resources/lead/lead-1", owner, json={"parent": {"type": "account", "id": "acc-1"}}))
    ids = {
        "tenant_id": tenant_id,
        "user_id": broker,
        "addon_id": addon_id,
        "invitation_id": invitation["invitation"]["invitation_id"],
        "grant_id": grant["grant"]["grant_id"],
        "role_id": "reviewer",
        "restriction_id": restricted["restriction"]["restriction_id"],
        "token_id": token_id,
        "resource_type": "lead",
        "resource_id": "lead-1",
    }
    return World(tenant_id, owner, admin, broker, ids)


def _perm(permission: str, scope: str = "all") -> dict[str, str]:
    return {"permission": permission, "scope": scope}


def path_of(route: Route, ids: dict[str, str]) -> str:
    """The route's template with every placeholder replaced by a real id of the world."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ids:
            pytest.fail(f"{route}: no id for path parameter {name!r}; add one to tests/api/http/tenant_routes.populate")
        return ids[name]

    return PLACEHOLDER.sub(fill, route.template)


def body_of(route: Route, world: World) -> dict[str, Any] | None:
    """A body the route accepts (valid for the world), or None for routes without one."""
    if not route.has_body:
        return None
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("PUT", "/policy"): {"min_admins": 1},
        ("POST", "/members"): {"user_id": "newbie", "email": "newbie@new.example", "name": "Newbie", "role": "broker"},
        ("PUT", "/members/{user_id}/role"): {"role": "manager"},
        ("PUT", "/members/{user_id}/manager"): {"reports_to": world.admin},
        ("POST", "/tokens"): {"label": "another"},
        ("POST", "/owner-token"): {"label": "recovery"},
        ("POST", "/invitations"): {"email": "other@new.example", "role": "broker"},
        ("POST", "/addons"): {"kind": "user-seats"},
        ("POST", "/grants"): {"user_id": world.broker, "permission": "leads.list", "scope": "all"},
        ("POST", "/roles"): {
            "role_id": "helper",
            "name": "Helper",
            "includes": [],
            "permissions": [_perm("audit.read")],
        },
        ("PUT", "/roles/{role_id}"): {"name": "Reviewer 2", "includes": [], "permissions": [_perm("billing.view")]},
        ("POST", "/restrictions"): {"user_id": world.broker, "permission": "contacts.create"},
        ("PUT", "/resources/{resource_type}/{resource_id}"): {"parent": {"type": "account", "id": "acc-2"}},
        ("POST", "/assignments"): {"resource_type": "lead", "resource_ids": ["lead-3"], "user_id": world.broker},
        ("POST", "/check"): {"checks": [{"user_id": world.broker, "permission": "leads.list"}]},
        ("POST", "/what-if"): {"roles": [], "from": "2026-11-01T00:00:00Z", "to": "2026-11-16T09:30:00Z"},
        ("POST", "/assertions"): {
            "assertions": [{"user_id": world.broker, "permission": "leads.list", "expect": "allow"}]
        },
        ("POST", "/erasures"): {"user_id": "never-a-member", "reason": "data-subject request"},
    }
    key = (route.method, route.template.removeprefix(TENANT_PREFIX))
    if key not in bodies:
        pytest.fail(f"{route}: no valid body known; add one to tests/api/http/tenant_routes.body_of")
    return bodies[key]


def query_of(route: Route, world: World) -> dict[str, str]:
    """The query parameters a GET route requires."""
    if route.template.endswith(("/check", "/explain")):
        return {"user_id": world.broker, "permission": "leads.list"}
    if route.template.endswith("/lookup/resources"):
        return {"user_id": world.broker, "permission": "leads.list", "resource_type": "lead"}
    if route.template.endswith("/lookup/subjects"):
        return {"permission": "leads.list", "resource_type": "lead", "resource_id": "lead-1"}
    return {}


def call(api: Api, route: Route, world: World, who: str) -> Any:
    """Send `route` on `world`'s paths as `who`, with a valid body or query."""
    body = body_of(route, world)
    kwargs: dict[str, Any] = {"params": query_of(route, world)}
    if body is not None:
        kwargs["json"] = body
    return api.request(route.method, path_of(route, world.ids), who, **kwargs)


def head(api: Api) -> int:
    """The event store's head position: unchanged means nothing was recorded."""
    return api.http.app.state.services.ledger.head_position()
