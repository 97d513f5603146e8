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
