"""Lookups over HTTP (R-C4): resources a member may act on, members who may act on a resource, paging, as of,
who may ask, and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.http.client import TENANT, Api, assert_problem

BASE = f"/v1/tenants/{TENANT}"
RESOURCES = f"{BASE}/lookup/resources"
SUBJECTS = f"{BASE}/lookup/subjects"


def _assign(api: Api, user: str, *leads: str) -> None:
    body = {"resource_type": "lead", "resource_ids": list(leads), "user_id": user}
    assert api.post(f"{BASE}/assignments", json=body).status_code == 200


def test_R_C4_a_brokers_leads_page_by_page_with_via(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("max", "manager")
    _assign(acme, "bob", "L-1", "L-2", "L-3")
    _assign(acme, "max", "L-9")
    query = {"user_id": "bob", "permission": "leads.view_details", "resource_type": "lead", "limit": 2}
    first = acme.get(RESOURCES, "bob", params=query)
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["all"] is False and page["as_of"] is None and page["position"] > 0
    assert [i["resource"]["id"] for i in page["items"]] == ["L-1", "L-2"]
    assert page["items"][0]["via"][-1] == {"kind": "assignment", "resource": {"type": "lead", "id": "L-1"}}
    rest = acme.get(RESOURCES, "bob", params={**query, "cursor": page["next_cursor"]}).json()
    assert [i["resource"]["id"] for i in rest["items"]] == ["L-3"] and rest["next_cursor"] is None
    owner = acme.get(RESOURCES, params={**query, "user_id": "olga", "limit": 100}).json()
    assert owner["all"] is True
    assert [i["resource"]["id"] for i in owner["items"]] == ["L-1", "L-2", "L-3", "L-9"]
    for item in owner["items"]:
        check = acme.get(
            f"{BASE}/check",
            params={
                "user_id": "olga",
                "permission": "leads.view_details",
                "resource_type": "lead",
                "resource_id": item["resource"]["id"],
            },
        ).json()
        assert check["allowed"] and check["via"] == item["via"]


def test_R_C4_the_subjects_of_a_lead_now_and_as_of(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("eva")
    now = datetime.fromisoformat(acme.post("/v1/clock", "operator", json={"now": _soon()}).json()["now"])
    _assign(acme, "bob", "L-17")
    acme.post("/v1/clock", "operator", json={"now": (now + timedelta(hours=1)).isoformat()})
    _assign(acme, "eva", "L-17")
    query = {"permission": "leads.view_details", "resource_type": "lead", "resource_id": "L-17"}
    subjects = acme.get(SUBJECTS, params=query).json()
    assert [(s["user_id"], s["role"]) for s in subjects["items"]] == [("eva", "broker"), ("olga", "owner")]
    then = acme.get(SUBJECTS, params={**query, "as_of": (now + timedelta(minutes=30)).isoformat()}).json()
    assert [s["user_id"] for s in then["items"]] == ["bob", "olga"]
    assert then["as_of"] is not None
    paged = acme.get(SUBJECTS, params={**query, "limit": 1}).json()
    assert [s["user_id"] for s in paged["items"]] == ["eva"] and paged["next_cursor"]


def test_R_C4_who_may_look_up_and_bad_input(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("ann", "auditor")
    query = {"user_id": "olga", "permission": "leads.view_details", "resource_type": "lead"}
    refused = assert_problem(acme.get(RESOURCES, "bob", params=query), 403, "forbidden")
    assert refused["missing_permission"] == "users.manage"
    assert acme.get(RESOURCES, "ann", params=query).status_code == 200
    assert acme.get(RESOURCES, "operator", params=query).status_code == 200
    subjects = {"permission": "leads.view_details", "resource_type": "lead", "resource_id": "L-1"}
    assert_problem(acme.get(SUBJECTS, "bob", params=subjects), 403, "forbidden")
    assert_problem(acme.get(RESOURCES, params={**query, "permission": "leads.fly"}), 422, "validation_error")
    assert_problem(acme.get(RESOURCES, params={**query, "cursor": "nonsense"}), 422, "validation_error")
    assert_problem(acme.get(SUBJECTS, params={"permission": "leads.list"}), 422, "validation_error")
    future = (datetime.now().astimezone() + timedelta(days=400)).isoformat()
    assert_problem(acme.get(RESOURCES, params={**query, "as_of": future}), 422, "validation_error")


def _soon() -> str:
    return (datetime.now().astimezone() + timedelta(minutes=1)).isoformat()
