"""Fixtures for the console's tests: the HTTP tests' app (SQLite and PostgreSQL, manual clock) with a small tenant
story, and helpers to sign in and to read the CSRF token of a page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.http.client import OPERATOR_TOKEN, TENANT, Api
from tests.api.http.conftest import api, settings  # noqa: F401 - fixtures used here

PAGES = [
    "/console/tenants",
    f"/console/t/{TENANT}",
    f"/console/t/{TENANT}/members",
    f"/console/t/{TENANT}/members/bob",
    f"/console/t/{TENANT}/audit",
    f"/console/t/{TENANT}/access-report",
    f"/console/t/{TENANT}/diff",
    f"/console/t/{TENANT}/why",
    f"/console/t/{TENANT}/changes",
    f"/console/t/{TENANT}/what-if",
]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def audit_count(client: Api) -> int:
    """How many events the ledger has recorded (a refused action must leave it unchanged)."""
    return len(client.events())


def set_clock(client: Api, now: str) -> None:
    answer = client.post("/v1/clock", "operator", json={"now": now})
    assert answer.status_code == 200, answer.text


def build_story(client: Api) -> dict[str, Any]:
    """acme on 2027-03-01: owner olga, admin ada, auditor aude, brokers bob and marie; lead L-17 assigned to marie;
    a grant and a restriction for bob; a second tenant `other`."""
    set_clock(client, "2027-02-20T09:00:00Z")
    client.open_tenant()
    client.add_member("ada", "admin")
    client.add_member("aude", "auditor")
    client.add_member("bob", "broker")
    set_clock(client, "2027-02-25T09:00:00Z")
    client.add_member("marie", "broker")
    answer = client.post(
        f"/v1/tenants/{TENANT}/assignments",
        json={"resource_type": "lead", "resource_ids": ["L-17"], "user_id": "marie"},
    )
    assert answer.status_code == 200, answer.text
    grant = client.post(
        f"/v1/tenants/{TENANT}/grants",
        json={"user_id": "bob", "permission": "billing.view", "scope": "all"},
        headers={"X-Reason": "quarterly billing review"},
    )
    assert grant.status_code == 201, grant.text
    restriction = client.post(
        f"/v1/tenants/{TENANT}/restrictions", json={"user_id": "bob", "permission": "contacts.create"}
    )
    assert restriction.status_code == 201, restriction.text
    set_clock(client, "2027-03-02T12:00:00Z")
    client.open_tenant("other")
    return {
        "grant_id": grant.json()["grant"]["grant_id"],
        "restriction_id": restriction.json()["restriction"]["restriction_id"],
    }


@pytest.fixture
def story(api: Api) -> tuple[Api, dict[str, Any]]:  # noqa: F811 (the imported fixture)
    return api, build_story(api)


def sign_in(client: Api, who: str) -> None:
    """Sign the test client in (its cookie jar keeps the session)."""
    token = OPERATOR_TOKEN if who == "operator" else client.tokens[who]
    answer = client.http.post("/console/sign-in", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF field"
    return found.group(1)
