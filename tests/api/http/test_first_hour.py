"""What a newcomer's first hour tripped on, over HTTP: the operator lists tenants (API.md `GET /v1/tenants`),
`POST /v1/clock` on a system clock says how to get a manual one, and `?schema=` serves any number of schemas of one
database (R-L3's guard function is created per schema)."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from tests.api.http.client import OPERATOR_TOKEN, assert_problem, bearer


def test_operator_lists_every_tenant_oldest_first_with_paging_and_status(api):
    """R-T6: the operator reads every tenant; pages follow `next_cursor`; `status` filters; members may not."""
    for tenant_id in ("acme", "bravo", "charlie"):
        api.open_tenant(tenant_id)
    first = api.get("/v1/tenants", "operator", params={"limit": 2})
    assert first.status_code == 200, first.text
    assert [t["tenant_id"] for t in first.json()["items"]] == ["acme", "bravo"]
    assert "scheduled_removals" in first.json()["items"][0]
    rest = api.get("/v1/tenants", "operator", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [t["tenant_id"] for t in rest.json()["items"]] == ["charlie"]
    assert rest.json()["next_cursor"] is None
    closed = api.get("/v1/tenants", "operator", params={"status": "closed"})
    assert closed.json() == {"items": [], "next_cursor": None}
    assert_problem(api.get("/v1/tenants", "olga"), 403, "forbidden")
    assert_problem(api.get("/v1/tenants", None), 401, "unauthenticated")
    assert_problem(api.get("/v1/tenants", "operator", params={"status": "open"}), 422, "validation_error")


def test_clock_on_a_system_clock_says_how_to_enable_the_manual_clock(database_url):
    """R-K2: only a manual clock is set; the problem names ACCESSLEDGER_CLOCK=manual and nothing is recorded."""
    app = create_app(Settings(database_url=database_url, operator_token=OPERATOR_TOKEN, clock="system"))
    with TestClient(app) as http:
        head = app.state.services.ledger.head_position()
        answer = http.post("/v1/clock", headers=bearer(OPERATOR_TOKEN), json={"now": "2030-01-01T00:00:00Z"})
        body = assert_problem(answer, 404, "not_found")
        assert "ACCESSLEDGER_CLOCK=manual" in body["detail"]
        assert app.state.services.ledger.head_position() == head


def test_two_schemas_of_one_database_both_serve(postgresql_url):
    """R-L3 guards per schema: the second schema failed with `function accessledger_append_only() does not exist`."""
    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA north")
        conn.execute("CREATE SCHEMA south")
    plan = {"name": "basic", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"}
    for schema in ("north", "south"):
        app = create_app(Settings(database_url=f"{postgresql_url}?schema={schema}", operator_token=OPERATOR_TOKEN))
        with TestClient(app) as http:
            body = {
                "tenant_id": f"office-{schema}",
                "name": schema,
                "plan": plan,
                "owner": {"user_id": "olga", "email": "olga@example.com", "name": "Olga"},
            }
            answer = http.post("/v1/tenants", headers=bearer(OPERATOR_TOKEN), json=body)
            assert answer.status_code == 201, answer.text
            listed = http.get("/v1/tenants", headers=bearer(OPERATOR_TOKEN)).json()["items"]
            assert [t["tenant_id"] for t in listed] == [f"office-{schema}"]
    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = 'accessledger_append_only' ORDER BY 1"
        ).fetchall()
        assert [r[0] for r in rows] == ["north", "south"]
        try:
            conn.execute("DELETE FROM south.audit_entries")
        except psycopg.Error as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("the south schema's audit trail accepted a DELETE")


def test_swagger_ui_and_redoc_load_their_assets_from_the_server_itself(api):
    """/docs was blank offline (Swagger UI from a CDN); every script and stylesheet now comes from this server."""
    import re

    for page in ("/docs", "/redoc"):
        html = api.get(page, None).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", html)
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            answer = api.get(asset, None)
            assert answer.status_code == 200 and len(answer.content) > 10_000, asset
