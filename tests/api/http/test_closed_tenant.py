"""A closed tenant over HTTP (R-T5) on every route, and read-your-writes after commands (API.md Conventions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.api.http.client import Api, assert_problem
from tests.api.http.tenant_routes import World, call, head, path_of, populate, query_of, tenant_routes

CLOSING = "closing"


def close(api: Api, world: World) -> None:
    """The owner cancels; the operator's clock passes the term end, which closes the tenant."""
    base = f"/v1/tenants/{world.tenant_id}"
    cancelled = api.post(f"{base}/subscription/cancellation", world.owner)
    assert cancelled.status_code == 200, cancelled.text
    effective = datetime.fromisoformat(cancelled.json()["tenant"]["cancellation_effective_at"].replace("Z", "+00:00"))
    moved = api.post("/v1/clock", "operator", json={"now": (effective + timedelta(minutes=1)).isoformat()})
    assert moved.status_code == 200, moved.text
    assert api.get(base, "operator").json()["status"] == "closed"


def test_R_T5_member_tokens_get_409_tenant_closed_on_every_route_and_nothing_is_recorded(api: Api) -> None:
    world = populate(api, CLOSING, "c")
    close(api, world)
    before = head(api)
    failures = []
    for route in tenant_routes(api.http.app):
        for who in (world.owner, world.admin, world.broker):
            answer = call(api, route, world, who)
            if answer.status_code != 409 or answer.json().get("code") != "tenant_closed":
                failures.append(f"{route} as {who}: {answer.status_code} {answer.text[:200]}")
            else:
                assert_problem(answer, 409, "tenant_closed")
    assert not failures, "\n".join(failures)
    assert head(api) == before


def test_R_T5_the_operator_still_reads_every_get_route_of_a_closed_tenant(api: Api) -> None:
    world = populate(api, CLOSING, "c")
    close(api, world)
    failures = []
    gets = [route for route in tenant_routes(api.http.app) if not route.is_command]
    for route in gets:
        answer = api.get(path_of(route, world.ids), "operator", params=query_of(route, world))
        if answer.status_code != 200:
            failures.append(f"{route}: {answer.status_code} {answer.text[:200]}")
    assert not failures, "\n".join(failures)
    base = f"/v1/tenants/{CLOSING}"
    members = api.get(f"{base}/members", "operator").json()["items"]
    assert {m["user_id"] for m in members} == {world.owner, world.admin, world.broker}  # nobody was removed
    assert all(m["status"] == "active" for m in members)
    types = [e["event_type"] for e in api.events(CLOSING)]
    assert types[-1] == "SubscriptionEnded" and "MemberRemoved" not in types


def test_R_T5_every_check_on_a_closed_tenant_is_denied_with_tenant_closed(api: Api) -> None:
    world = populate(api, CLOSING, "c")
    base = f"/v1/tenants/{CLOSING}"
    query = {"user_id": world.broker, "permission": "leads.list", "resource_type": "lead", "resource_id": "lead-1"}
    assert api.get(f"{base}/check", "operator", params=query).json()["allowed"] is True
    close(api, world)
    for user in (world.owner, world.admin, world.broker):
        decision = api.get(f"{base}/check", "operator", params={"user_id": user, "permission": "leads.list"}).json()
        assert (decision["allowed"], decision["reason"]) == (False, "tenant_closed"), decision
    assert api.get(f"{base}/check", "operator", params=query).json()["reason"] == "tenant_closed"
    explained = api.get(f"{base}/explain", "operator", params=query).json()
    assert (explained["allowed"], explained["reason"]) == (False, "tenant_closed")
    checks = [{"user_id": u, "permission": "audit.read"} for u in (world.owner, world.admin)]
    results = api.post(f"{base}/check", "operator", json={"checks": checks}).json()["results"]
    assert [(r["allowed"], r["reason"]) for r in results] == [(False, "tenant_closed")] * 2


def test_R_T5_a_closed_tenant_is_never_reopened_nor_renewed(api: Api) -> None:
    world = populate(api, CLOSING, "c")
    close(api, world)
    before = head(api)
    later = api.http.app.state.services.now() + timedelta(days=70)
    assert api.post("/v1/clock", "operator", json={"now": later.isoformat()}).status_code == 200
    assert head(api) == before
    tenant = api.get(f"/v1/tenants/{CLOSING}", "operator").json()
    assert tenant["status"] == "closed"
    assert_problem(api.get(f"/v1/tenants/{CLOSING}", world.owner), 409, "tenant_closed")


def test_read_your_writes_a_following_get_sees_at_least_the_commands_position(api: Api) -> None:
    """Without min_position, a GET right after a command sees its effect: projections caught up before the
    command answered (in-process projections)."""
    api.open_tenant("ryw")
    owner = "owner-ryw"
    base = "/v1/tenants/ryw"

    def position_of(answer: Any) -> int:
        assert answer.status_code in (200, 201), answer.text
        assert int(answer.headers["x-position"]) == answer.json()["position"]
        return answer.json()["position"]

    def seen(user: str, permission: str, **resource: str) -> dict[str, Any]:
        answer = api.get(f"{base}/check", owner, params={"user_id": user, "permission": permission, **resource})
        assert answer.status_code == 200, answer.text
        return answer.json()

    added = position_of(api.post(f"{base}/members", owner, json=_person("ria", "broker")))
    decision = seen("ria", "contacts.create")
    assert decision["allowed"] is True and added <= decision["position"]
    assert api.get(f"{base}/members/ria", owner).json()["role"] == "broker"

    body = {"resource_type": "lead", "resource_ids": ["l-1"], "user_id": "ria"}
    assigned = position_of(api.post(f"{base}/assignments", owner, json=body))
    decision = seen("ria", "leads.view_details", resource_type="lead", resource_id="l-1")
    assert decision["allowed"] is True and assigned <= decision["position"]

    granted = position_of(
        api.post(f"{base}/grants", owner, json={"user_id": "ria", "permission": "audit.read", "scope": "all"})
    )
    decision = seen("ria", "audit.read")
    assert decision["allowed"] is True and granted <= decision["position"]
    permissions = api.get(f"{base}/members/ria/permissions", owner).json()
    assert granted <= permissions["position"] and "audit.read" in {p["permission"] for p in permissions["permissions"]}

    changed = position_of(api.put(f"{base}/members/ria/role", owner, json={"role": "marketing"}))
    decision = seen("ria", "contacts.create")
    assert decision["allowed"] is False and changed <= decision["position"]

    removed = position_of(api.delete(f"{base}/members/ria", owner))
    decision = seen("ria", "audit.read")
    assert decision["reason"] == "not_a_member" and removed <= decision["position"]
    assert api.get(f"{base}/members/ria", owner).json()["status"] == "removed"
    ready = api.http.get("/readyz").json()
    assert removed <= ready["position"] and ready["projection_lag"] == 0


def _person(user_id: str, role: str) -> dict[str, str]:
    return {"user_id": user_id, "email": f"{user_id}@ryw.example", "name": user_id.title(), "role": role}
