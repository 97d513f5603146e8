"""Operations over HTTP: health, readiness, metrics, the manual clock (R-K1, R-K2), outages, the CLI's tick."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.app import create_app
from api.http.errors import is_database_down
from api.settings import Settings
from tests.api.http.client import TENANT, Api, assert_problem


def test_healthz_readyz_metrics(acme: Api) -> None:
    assert acme.http.get("/healthz").json() == {"status": "ok"}
    ready = acme.http.get("/readyz").json()
    assert ready["status"] == "ready" and ready["projection_lag"] == 0 and ready["position"] >= 1
    acme.get(f"/v1/tenants/{TENANT}")
    text = acme.http.get("/metrics").text
    assert 'route="/v1/tenants/{tenant_id}"' in text and 'status="200"' in text
    assert "accessledger_http_request_duration_seconds_bucket" in text
    assert "accessledger_events_appended_total" in text and "accessledger_projection_lag_events 0.0" in text


def test_R_K2_the_operator_moves_the_manual_clock_forward_only(acme: Api) -> None:
    later = datetime.now().astimezone() + timedelta(days=3)
    answer = acme.post("/v1/clock", "operator", json={"now": later.isoformat()})
    assert answer.status_code == 200
    assert datetime.fromisoformat(answer.json()["now"].replace("Z", "+00:00")) == later
    assert answer.json()["position"] == int(answer.headers["x-position"])
    earlier = (later - timedelta(seconds=1)).isoformat()
    assert_problem(acme.post("/v1/clock", "operator", json={"now": earlier}), 409, "clock_backwards")
    assert_problem(acme.post("/v1/clock", "olga", json={"now": later.isoformat()}), 403, "forbidden")
    assert_problem(acme.post("/v1/clock", "operator", json={"now": "2030-01-01T00:00:00"}), 422, "validation_error")


def test_R_K2_the_manual_clock_never_goes_back_across_restarts(settings: Settings) -> None:
    later = datetime.now().astimezone() + timedelta(days=30)
    with TestClient(create_app(settings)) as http:
        api = Api(http)
        api.open_tenant()
        assert api.post("/v1/clock", "operator", json={"now": later.isoformat()}).status_code == 200
    with TestClient(create_app(settings)) as http:
        api = Api(http)
        assert http.app.state.services.now() == later
        assert_problem(
            api.post("/v1/clock", "operator", json={"now": (later - timedelta(days=1)).isoformat()}),
            409,
            "clock_backwards",
        )


def test_R_K2_without_a_manual_clock_the_route_does_not_exist(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"clock": "system"}))) as http:
        answer = Api(http).post("/v1/clock", "operator", json={"now": datetime.now().astimezone().isoformat()})
        assert_problem(answer, 404, "not_found")


def test_R_K1_setting_the_clock_applies_what_became_due(acme: Api) -> None:
    term_end = acme.get(f"/v1/tenants/{TENANT}").json()["term_end"]
    after = datetime.fromisoformat(term_end + "T00:00:00+00:00") + timedelta(hours=1)
    position = acme.post("/v1/clock", "operator", json={"now": after.isoformat()}).json()["position"]
    renewed = [e for e in acme.events() if e["event_type"] == "TermRenewed"]
    assert renewed and renewed[0]["actor"] == "system" and renewed[0]["position"] <= position
    assert acme.get(f"/v1/tenants/{TENANT}").json()["term_start"] == term_end


def test_tick_applies_due_changes_from_the_command_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(settings)) as http:
        Api(http).open_tenant()
    monkeypatch.setenv("ACCESSLEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ACCESSLEDGER_CLOCK", "system")
    result = CliRunner().invoke(cli, ["tick"])
    assert result.exit_code == 0, result.output
    assert "0 tenants changed" in result.output


def test_database_errors_are_recognised_as_unavailable() -> None:
    assert is_database_down(psycopg.OperationalError("connection refused"))
    assert not is_database_down(ValueError("bug"))


def test_a_lost_database_connection_recovers_by_itself(acme: Api, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")
    dbname = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
    answers = [acme.get(f"/v1/tenants/{TENANT}/members") for _ in range(5)]
    for answer in answers:
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            assert_problem(answer, 503, "unavailable")
    assert answers[-1].status_code == 200


def test_R_K1_the_background_sweep_applies_due_changes(settings: Settings) -> None:
    swept = settings.model_copy(update={"sweep_interval_seconds": 0.1})
    with TestClient(create_app(swept)) as http:
        api = Api(http)
        term_end = api.open_tenant()["tenant"]["term_end"]
        services = http.app.state.services
        # Move the clock without sweeping (as time passes on a system clock): only the background sweep can act.
        services.manual_clock.clock.set(datetime.fromisoformat(term_end + "T00:00:00+00:00") + timedelta(minutes=1))
        deadline = time.monotonic() + 30
        while "TermRenewed" not in [e["event_type"] for e in api.events()]:
            assert time.monotonic() < deadline, "the sweep did not renew the term"
            time.sleep(0.05)


def test_an_app_served_twice_opens_its_connections_again(settings: Settings) -> None:
    application = create_app(settings)
    with TestClient(application) as http:
        Api(http).open_tenant()
    with TestClient(application) as http:
        assert_problem(Api(http).get("/v1/tenants/nowhere", "operator"), 404, "not_found")
        assert Api(http).get(f"/v1/tenants/{TENANT}", "operator").json()["tenant_id"] == TENANT
