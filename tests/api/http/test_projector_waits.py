"""API processes with the projections run elsewhere: commands and `min_position` reads are woken by the projector's
report, never answered from a read model that has not seen the command (R-Z2, R-Z1, R-X8)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from api.http import commands
from api.http.app import create_app
from api.http.routes import ops
from api.settings import Settings
from domain.application import AccessLedger
from projections import all_projections
from projections.db import ReadStore
from projections.runner import Runner
from tests.api.http.client import PLAN, Api, assert_problem


def _tenant(tenant_id: str) -> dict[str, object]:
    owner = {"user_id": f"owner-{tenant_id}", "email": f"owner@{tenant_id}.example", "name": "Owner"}
    return {"tenant_id": tenant_id, "name": f"{tenant_id} Ltd", "plan": PLAN, "owner": owner}


def test_r_z2_commands_wait_for_the_projector_and_never_answer_from_a_stale_read_model(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-Z2: with no projector running, a recorded command answers 503 `stale_read` with its position (not a 404
    built from the directory); once the projector runs, commands and `min_position` reads answer as soon as it
    reports, without polling; /readyz answers 503 while events wait unprojected (R-Z3)."""
    monkeypatch.setattr(commands, "COMMAND_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(ops, "STALL_SECONDS", 0.3)
    separate = settings.model_copy(update={"in_process_projections": False})
    ledger = AccessLedger(settings.database_url)
    store = ReadStore(ledger.database)
    stop = threading.Event()
    projector = threading.Thread(target=lambda: runner.run_forever(stop, poll_interval=0.05), daemon=True)
    try:
        runner = Runner(ledger, store, all_projections())
        with TestClient(create_app(separate)) as http:
            api = Api(http)
            stale = assert_problem(api.post("/v1/tenants", "operator", json=_tenant("acme")), 503, "stale_read")
            assert stale["position"] >= 1
            assert ledger.head_position() == stale["position"]  # recorded once, answered honestly
            # R-Z3: /readyz tells the truth once events have waited (10 s in production) without projecting.
            assert http.get("/readyz").status_code == 200
            time.sleep(0.4)
            assert_problem(http.get("/readyz"), 503, "unavailable")

            projector.start()
            started = time.monotonic()
            opened = api.post("/v1/tenants", "operator", json=_tenant("globex"))
            assert opened.status_code == 201, opened.text
            assert time.monotonic() - started < 0.5
            position = opened.json()["position"]
            api.tokens["owner-globex"] = opened.json()["owner_token"]
            read = api.get("/v1/tenants/acme", "operator", params={"min_position": position})
            assert read.status_code == 200, read.text
            assert read.json()["tenant_id"] == "acme"
            assert http.get("/readyz").status_code == 200
    finally:
        stop.set()
        runner.kick()
        if projector.is_alive():
            projector.join(timeout=5)
        store.close()
        ledger.close()
