"""R-X5: tenants are isolated. Every tenant-scoped route, called on another tenant's paths with a member token of
this tenant (owner, admin or broker), answers 404 `not_found` as if that tenant did not exist, and records nothing.
"""

from __future__ import annotations

from tests.api.http.client import Api, assert_problem
from tests.api.http.tenant_routes import World, call, head, populate, tenant_routes


def _worlds(api: Api) -> tuple[World, World]:
    return populate(api, "tenant-a", "a"), populate(api, "tenant-b", "b")


def test_R_X5_the_matrix_covers_every_tenant_route_of_api_md(api: Api) -> None:
    """The enumeration is not empty by accident: it holds API.md's tenant routes, GETs and commands alike."""
    listed = {str(route) for route in tenant_routes(api.http.app)}
    expected = {
        "GET /v1/tenants/{tenant_id}",
        "PUT /v1/tenants/{tenant_id}/policy",
        "POST /v1/tenants/{tenant_id}/subscription/cancellation",
        "DELETE /v1/tenants/{tenant_id}/subscription/cancellation",
        "GET /v1/tenants/{tenant_id}/members",
        "POST /v1/tenants/{tenant_id}/members",
        "GET /v1/tenants/{tenant_id}/members/{user_id}",
        "PUT /v1/tenants/{tenant_id}/members/{user_id}/role",
        "DELETE /v1/tenants/{tenant_id}/members/{user_id}",
        "GET /v1/tenants/{tenant_id}/members/{user_id}/permissions",
        "PUT /v1/tenants/{tenant_id}/members/{user_id}/manager",
        "GET /v1/tenants/{tenant_id}/members/{user_id}/team",
        "POST /v1/tenants/{tenant_id}/tokens",
        "DELETE /v1/tenants/{tenant_id}/tokens/{token_id}",
        "POST /v1/tenants/{tenant_id}/invitations",
        "GET /v1/tenants/{tenant_id}/invitations",
        "DELETE /v1/tenants/{tenant_id}/invitations/{invitation_id}",
        "POST /v1/tenants/{tenant_id}/invitations/{invitation_id}/resend",
        "POST /v1/tenants/{tenant_id}/addons",
        "GET /v1/tenants/{tenant_id}/addons",
        "POST /v1/tenants/{tenant_id}/addons/{addon_id}/cancellation",
        "DELETE /v1/tenants/{tenant_id}/addons/{addon_id}/cancellation",
        "GET /v1/tenants/{tenant_id}/charges",
        "POST /v1/tenants/{tenant_id}/grants",
        "GET /v1/tenants/{tenant_id}/grants",
        "DELETE /v1/tenants/{tenant_id}/grants/{grant_id}",
        "GET /v1/tenants/{tenant_id}/roles",
        "POST /v1/tenants/{tenant_id}/roles",
        "GET /v1/tenants/{tenant_id}/roles/{role_id}",
        "PUT /v1/tenants/{tenant_id}/roles/{role_id}",
        "DELETE /v1/tenants/{tenant_id}/roles/{role_id}",
        "POST /v1/tenants/{tenant_id}/restrictions",
        "GET /v1/tenants/{tenant_id}/restrictions",
        "DELETE /v1/tenants/{tenant_id}/restrictions/{restriction_id}",
        "PUT /v1/tenants/{tenant_id}/resources/{resource_type}/{resource_id}",
        "GET /v1/tenants/{tenant_id}/resources/{resource_type}/{resource_id}",
        "POST /v1/tenants/{tenant_id}/assignments",
        "DELETE /v1/tenants/{tenant_id}/assignments/{resource_type}/{resource_id}",
        "GET /v1/tenants/{tenant_id}/assignments",
        "GET /v1/tenants/{tenant_id}/check",
        "POST /v1/tenants/{tenant_id}/check",
        "GET /v1/tenants/{tenant_id}/explain",
        "GET /v1/tenants/{tenant_id}/access-report",
        "GET /v1/tenants/{tenant_id}/audit",
        "GET /v1/tenants/{tenant_id}/audit/export",
        "GET /v1/tenants/{tenant_id}/audit/verify",
    }
    assert expected <= listed, sorted(expected - listed)


def test_R_X5_foreign_member_tokens_get_404_on_every_tenant_route_and_nothing_is_recorded(api: Api) -> None:
    a, b = _worlds(api)
    routes = tenant_routes(api.http.app)
    # Control: the paths name things that exist, so the 404 below comes from the isolation, not a missing id.
    for route in routes:
        if not route.is_command:
            assert call(api, route, b, b.owner).status_code == 200, route
    before = head(api)
    failures = []
    for route in routes:
        for who in (a.owner, a.admin, a.broker):
            answer = call(api, route, b, who)
            if answer.status_code != 404:
                failures.append(f"{route} as {who}: {answer.status_code} {answer.text[:200]}")
                continue
            body = assert_problem(answer, 404, "not_found")
            assert b.admin not in answer.text, body  # nothing of B leaks (no request names the admin)
    assert not failures, "\n".join(failures)
    assert head(api) == before, "a foreign token recorded something"


def test_R_X5_a_foreign_tenant_answers_like_one_that_does_not_exist(api: Api) -> None:
    """The 404 for tenant B is indistinguishable from the 404 for a tenant nobody opened."""
    a, b = _worlds(api)
    foreign = api.get("/v1/tenants/tenant-b/members", a.admin)
    missing = api.get("/v1/tenants/no-such-tenant/members", a.admin)
    assert_problem(foreign, 404, "not_found")
    assert_problem(missing, 404, "not_found")
    assert foreign.json()["detail"].replace("tenant-b", "X") == missing.json()["detail"].replace("no-such-tenant", "X")


def test_R_X5_tenant_b_is_untouched_after_tenant_a_tried_everything(api: Api) -> None:
    """B's members, add-ons, grants and audit trail read exactly as before A's attempts."""
    a, b = _worlds(api)
    base = f"/v1/tenants/{b.tenant_id}"
    snapshot_paths = [base, f"{base}/members", f"{base}/addons", f"{base}/grants", f"{base}/audit"]
    before = [api.get(path, b.owner).json() for path in snapshot_paths]
    for route in tenant_routes(api.http.app):
        call(api, route, b, a.owner)
    assert [api.get(path, b.owner).json() for path in snapshot_paths] == before
    assert api.get(f"{base}/audit/verify", b.owner).json()["ok"] is True
