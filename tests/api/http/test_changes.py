"""The change feed over HTTP (R-C5): pages with next_after, filters, who may read it, bad input, and a long poll
woken by a command (no polling: the reader parks on its tenant's wake-up)."""

from __future__ import annotations

import threading
import time

from tests.api.http.client import TENANT, Api, assert_problem

CHANGES = f"/v1/tenants/{TENANT}/changes"


def test_R_C5_the_feed_pages_by_position_and_filters(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("ann", "auditor")
    everything = acme.get(CHANGES, params={"limit": 1000}).json()
    assert everything["items"][0]["event_type"] == "TenantOpened" and everything["items"][0]["user_id"] == "olga"
    assert {i["effect"] for i in everything["items"]} == {"gained"}
    last = everything["next_after"]
    assert last == everything["items"][-1]["position"]
    nothing = acme.get(CHANGES, params={"after": last}).json()
    assert nothing == {"items": [], "next_after": last}
    bobs = acme.get(CHANGES, "ann", params={"user_id": "bob", "permission": "leads.list"}).json()["items"]
    assert [(i["event_type"], i["user_id"], i["permission"], i["scope"]) for i in bobs] == [
        ("MemberAdded", "bob", "leads.list", "assigned")
    ]
    first = acme.get(CHANGES, params={"limit": 1}).json()
    # Whole events at a time: the first event's every entry, and next_after at its position.
    assert {i["position"] for i in first["items"]} == {first["next_after"]}
    assert len(first["items"]) == sum(1 for i in everything["items"] if i["position"] == first["next_after"])


def test_R_C5_who_may_read_the_feed_and_bad_input(acme: Api) -> None:
    acme.add_member("bob")
    refused = assert_problem(acme.get(CHANGES, "bob"), 403, "forbidden")
    assert refused["missing_permission"] == "audit.read"
    assert acme.get(CHANGES, "operator").status_code == 200
    assert_problem(acme.get(CHANGES, params={"after": -1}), 422, "validation_error")
    assert_problem(acme.get(CHANGES, params={"wait": 31}), 422, "validation_error")
    assert_problem(acme.get(CHANGES, params={"permission": "leads.fly"}), 422, "validation_error")
    stream = {"Accept": "text/event-stream", "Last-Event-ID": "nonsense"}
    assert_problem(acme.get(CHANGES, headers=stream), 422, "validation_error")
    assert_problem(acme.get("/v1/tenants/nobody-here/changes", "operator"), 404, "not_found")


def test_R_C5_a_long_poll_is_woken_by_the_command_that_changes_access(acme: Api) -> None:
    head = acme.get(CHANGES, params={"limit": 1000}).json()["next_after"]
    answers: list = []

    def poll() -> None:
        started = time.monotonic()
        answers.append(acme.get(CHANGES, params={"after": head, "wait": 20}))
        answers.append(time.monotonic() - started)

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    acme.add_member("bob")
    waiter.join(timeout=30)
    answer, seconds = answers
    assert answer.status_code == 200
    assert {i["user_id"] for i in answer.json()["items"]} == {"bob"}
    assert seconds < 10, "the long poll was not woken by the command"


def test_R_C5_R_H2_moving_a_lead_under_a_granted_location_is_a_gain_and_moving_it_away_a_loss(acme: Api) -> None:
    tenant = f"/v1/tenants/{TENANT}"
    acme.add_member("bob")
    berlin = {"type": "location", "id": "berlin"}
    grant = {"user_id": "bob", "permission": "leads.view_details", "scope": "resource", "resource": berlin}
    assert acme.post(f"{tenant}/grants", json=grant).status_code == 201
    head = acme.get(CHANGES, params={"limit": 1000}).json()["next_after"]
    moved = acme.put(f"{tenant}/resources/lead/L-1", json={"parent": berlin})
    position = int(moved.headers["X-Position"])
    params = {"after": head, "user_id": "bob", "permission": "leads.view_details", "wait": 5}
    items = acme.get(CHANGES, params=params).json()["items"]
    assert [(i["position"], i["event_type"], i["scope"], i["resource"], i["effect"]) for i in items] == [
        (position, "ResourceParentSet", "resource", {"type": "lead", "id": "L-1"}, "gained")
    ]
    report = acme.get(f"{tenant}/access-report").json()["members"]
    held = next(
        p for m in report if m["user_id"] == "bob" for p in m["permissions"] if p["permission"] == grant["permission"]
    )
    assert held["resources"] == [{"type": "lead", "id": "L-1"}, berlin]
    acme.put(f"{tenant}/resources/lead/L-1", json={"parent": None})
    later = acme.get(CHANGES, params={**params, "after": position}).json()["items"]
    assert [(i["event_type"], i["resource"], i["effect"]) for i in later] == [
        ("ResourceParentSet", {"type": "lead", "id": "L-1"}, "lost")
    ]
