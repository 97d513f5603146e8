"""Property-based tests of every operation in the app's own OpenAPI document (schemathesis, in-process ASGI).

For each operation a few derandomized examples are sent as the operator and as a tenant's owner, so requests get
past 401 into the routes' own rules; path parameters are steered towards ids that exist. Every answer must be
below 500 and must match the documented schema for its status (API.md: problem+json for errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transports import RequestsTransport
from starlette_testclient import TestClient as ASGIClient

from api.http.app import create_app
from api.settings import Settings
from tests.api.http.client import OPERATOR_TOKEN, TENANT, Api, assert_problem, bearer

# Filled by the fixture for the running test; the hooks below read it while generating cases.
KNOWN: dict[str, list[Any]] = {}
TOKENS: dict[str, str] = {}
CHECKS = (not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance)
TRANSPORT = RequestsTransport()
BASE_URL = "http://testserver"
# The manual clock may only be moved a little: far jumps would renew every term month by month for centuries.
CLOCK_HORIZON = timedelta(days=40)


@pytest.fixture
def served_app(settings: Settings) -> Iterator[FastAPI]:
    """The app on the test's database with tenant acme (owner olga, members ada and bob, an add-on, an
    invitation, a grant, a second token, an assignment); its lifespan runs while the examples are sent."""
    app = create_app(settings)
    with TestClient(app) as http:
        api = Api(http)
        api.open_tenant()
        api.add_member("ada", "admin")
        api.add_member("bob", "broker")
        base = f"/v1/tenants/{TENANT}"
        addon = api.post(f"{base}/addons", json={"kind": "user-seats"}).json()["addon"]["addon_id"]
        invitation = api.post(f"{base}/invitations", json={"email": "eve@acme.example", "role": "broker"}).json()
        grant = api.post(f"{base}/grants", json={"user_id": "bob", "permission": "billing.view", "scope": "all"})
        token_id = api.post(f"{base}/tokens", "bob", json={"label": "spare"}).json()["token_id"]
        api.post(f"{base}/assignments", json={"resource_type": "lead", "resource_ids": ["lead-1"], "user_id": "bob"})
        role = {"role_id": "reviewer", "name": "Reviewer", "includes": [], "permissions": []}
        assert api.post(f"{base}/roles", json=role).status_code == 201
        restriction = api.post(f"{base}/restrictions", json={"user_id": "bob", "permission": "leads.booster"})
        KNOWN.clear()
        KNOWN.update(
            tenant_id=[TENANT],
            user_id=["bob", "ada", "olga", "nobody"],
            addon_id=[addon],
            invitation_id=[invitation["invitation"]["invitation_id"]],
            grant_id=[grant.json()["grant"]["grant_id"]],
            role_id=["reviewer", "broker"],
            restriction_id=[restriction.json()["restriction"]["restriction_id"]],
            token_id=[token_id],
            resource_type=["lead"],
            resource_id=["lead-1", "lead-2"],
        )
        KNOWN["position"] = [app.state.services.ledger.head_position()]
        TOKENS.clear()
        TOKENS.update(operator=OPERATOR_TOKEN, owner=api.tokens["olga"])
        yield app


@pytest.fixture
def client(served_app: FastAPI) -> ASGIClient:
    """A requests-style client on the served app (schemathesis's own ASGI transport would run the app's lifespan,
    and so close and reopen its database connections, on every call)."""
    return ASGIClient(served_app)


@pytest.fixture
def api_schema(served_app: FastAPI) -> Any:
    return schemathesis.from_asgi("/openapi.json", served_app, force_schema_version="30")


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.hook("before_generate_path_parameters")
def known_ids_first(context: Any, strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly ids that exist (so routes run past 404), sometimes whatever the schema allows."""

    def known(parameters: dict[str, Any] | None) -> st.SearchStrategy:
        if not parameters:
            return st.just(parameters)
        return st.fixed_dictionaries(
            {name: st.sampled_from(KNOWN[name]) if name in KNOWN else st.just(v) for name, v in parameters.items()}
        )

    return mostly(strategy.flatmap(known), strategy)


def mostly(preferred: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """`preferred` three times out of four."""
    return st.integers(0, 3).flatmap(lambda n: other if n == 0 else preferred)


@schema.hook("before_generate_query")
def known_users_first(context: Any, strategy: st.SearchStrategy) -> st.SearchStrategy:
    """`user_id` in queries (check, explain, filters) names a member more often than not; `min_position` is one
    the projections have reached (a later one answers 422 position_ahead, as documented); long polls are short."""

    def reached(query: dict[str, Any] | None) -> dict[str, Any] | None:
        if query:
            # FastAPI documents optional parameters as `anyOf [T, null]`, which schemathesis sends as the text
            # "null"; a query string has no null, only absence.
            query = {name: value for name, value in query.items() if value not in (None, "null")}
        if query and "wait" in query:
            query = {**query, "wait": short_wait(query["wait"])}
        if not query or "min_position" not in query:
            return query
        try:
            wanted = int(query["min_position"])
        except (TypeError, ValueError):
            return query  # not a number: the app must answer 422
        return {**query, "min_position": max(0, min(wanted, KNOWN["position"][0]))}

    def known(query: dict[str, Any] | None) -> st.SearchStrategy:
        if not query or "user_id" not in query:
            return st.just(query)
        return st.sampled_from(KNOWN["user_id"]).map(lambda user: {**query, "user_id": user})

    return mostly(strategy.flatmap(known), strategy).map(reached)


def short_wait(wait: Any) -> Any:
    """A change feed's long poll (`wait`, up to 30 s) is cut to one second: a valid wait on a quiet feed answers
    only when it runs out, and ten of them would hold the test for minutes. Malformed values stay (422)."""
    try:
        return min(float(wait), 1.0) if float(wait) >= 0 else wait
    except (TypeError, ValueError, OverflowError):
        return wait


def bounded_clock(case: Any, now: datetime) -> None:
    """Keep POST /v1/clock within CLOCK_HORIZON of now (backwards stays allowed: it must answer 409)."""
    if case.path != "/v1/clock" or not isinstance(case.body, dict) or not isinstance(case.body.get("now"), str):
        return
    try:
        wanted = datetime.fromisoformat(case.body["now"].replace("Z", "+00:00"))
        if wanted.tzinfo is not None and wanted > now + CLOCK_HORIZON:
            case.body = {**case.body, "now": (now + CLOCK_HORIZON).isoformat()}
    except (ValueError, OverflowError):
        return  # malformed: the app must answer 422


@schema.parametrize()
@hypothesis_settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_below_500_and_as_documented(
    case: Any, served_app: FastAPI, client: ASGIClient
) -> None:
    """No 5xx and no answer outside its documented schema, as the operator and as a member (R-X2: errors are
    problem+json with a code)."""
    bounded_clock(case, served_app.state.services.now())
    for who in ("operator", "owner"):
        response = TRANSPORT.send(case, session=client, base_url=BASE_URL, headers=bearer(TOKENS[who]))
        # JSON is UTF-8 (RFC 8259); requests would guess a charset for application/problem+json and garble text.
        response.encoding = "utf-8"
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400 and case.path.startswith("/v1/"):
            assert response.headers["content-type"].startswith("application/problem+json"), response.text
            assert response.json()["code"], response.text


def test_R_X2_nul_characters_are_refused_before_they_reach_the_database(acme: Api) -> None:
    """Found by the run above on PostgreSQL, whose text cannot hold U+0000: a body carrying one was recorded and
    then stopped every projection; a path or query carrying one answered 500. Now: 422 or 404, nothing recorded."""
    services = acme.http.app.state.services
    before = services.ledger.head_position()
    body = {"user_id": "bob", "email": "bob@acme.example", "name": "Bob\u0000", "role": "broker"}
    refused = assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", json=body), 422, "validation_error")
    assert refused["errors"][0]["loc"] == ["body", "name"]  # R-X6: the field is named
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/members", params={"role": "a\u0000"}), 422, "validation_error")
    assert_problem(
        acme.get(f"/v1/tenants/{TENANT}/audit", "operator", params={"actor": "\u0000"}), 422, "validation_error"
    )
    assert_problem(acme.get("/v1/tenants/ac%00me/members", "operator"), 422, "validation_error")  # R-X6
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/members/bo%00b"), 422, "validation_error")
    assert services.ledger.head_position() == before
    assert acme.http.get("/readyz").json()["projection_lag"] == 0
    assert acme.post(f"/v1/tenants/{TENANT}/members", json={**body, "name": "Bob"}).status_code == 201
