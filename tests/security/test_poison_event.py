"""R-X8 over HTTP: an event a projection cannot apply stops that projection loudly — /readyz 503 naming the position
and the error, a metric, one log line — instead of a busy loop; commands then answer 503 stale_read and record
nothing (finding 12 of issue 13)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from tests.api.http.client import TENANT, Api, assert_problem
from tests.security.helpers import head

T = f"/v1/tenants/{TENANT}"


def poison_member(api: Api, user_id: str) -> dict[str, int]:
    """Make the first projection unable to apply any MemberAdded of `user_id`; counts its attempts. (By user id:
    projections see personal fields such as the name sealed, R-L6.)"""
    runner = api.http.app.state.services.runner
    projection = runner.projections[0]
    original = projection.process
    calls = {"failed": 0}

    def process(tx: Any, batch: Any, suffix: str = "") -> None:
        if any(type(r.event).__name__ == "MemberAdded" and r.event.user_id == user_id for r in batch):
            calls["failed"] += 1
            raise ValueError(f"cannot apply the member {user_id}")
        original(tx, batch, suffix)

    projection.process = process
    return calls


def test_R_X8_finding12_a_poison_event_stops_its_projection_loudly(acme: Api, caplog: pytest.LogCaptureFixture) -> None:
    calls = poison_member(acme, "pat")
    caplog.set_level(logging.ERROR, logger="accessledger.projections")
    body = {"user_id": "pat", "email": "pat@acme.example", "name": "Poison", "role": "broker"}
    answer = acme.post(f"{T}/members", json=body, headers={"Idempotency-Key": "poison-1"})
    stale = assert_problem(answer, 503, "stale_read")  # recorded, but the read side cannot confirm it
    position = stale["position"]
    assert position == head(acme)
    ready = assert_problem(acme.http.get("/readyz"), 503, "unavailable")
    poison = ready["position"]  # the MemberAdded; the command's own position is its last event's (TokenIssued)
    assert poison == position - 1 and "cannot apply the member pat" in ready["error"]
    metrics = acme.http.get("/metrics").text
    assert f'accessledger_projection_stopped{{position="{poison}"' in metrics
    time.sleep(1.5)  # the in-process projector keeps running: it must not retry the poison event
    attempts = calls["failed"]
    time.sleep(1.0)
    assert calls["failed"] == attempts
    stopped_lines = [r for r in caplog.records if "stopped at position" in r.getMessage()]
    assert len(stopped_lines) == 1
    # Commands now answer 503 stale_read and record nothing.
    before = head(acme)
    again = acme.post(f"{T}/members", json={**body, "user_id": "quin", "email": "q@acme.example", "name": "Q"})
    assert_problem(again, 503, "stale_read")
    assert head(acme) == before
    # Reads still answer (the other projections are up to date).
    assert acme.get(T).status_code == 200
