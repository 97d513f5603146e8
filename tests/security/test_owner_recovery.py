"""R-T6 over HTTP: nobody but the owner revokes the owner's tokens; the operator issues an owner who lost every
token a new one (finding 5 of issue 13)."""

from __future__ import annotations

from tests.api.http.client import TENANT, Api, assert_problem
from tests.security.helpers import head

T = f"/v1/tenants/{TENANT}"


def test_R_T6_finding5_an_admin_cannot_revoke_the_owners_token(acme: Api) -> None:
    acme.add_member("ada", "admin")
    token_id = next(iter(acme.http.app.state.services.ledger.load(TENANT).tokens))
    before = head(acme)
    assert_problem(acme.delete(f"{T}/tokens/{token_id}", "ada"), 409, "owner_immutable")
    assert head(acme) == before
    assert acme.get(T).status_code == 200  # the owner still gets in


def test_R_T6_the_operator_issues_an_owner_token_with_a_reason(acme: Api) -> None:
    tokens = acme.http.app.state.services.ledger.load(TENANT).tokens
    (first_id,) = list(tokens)
    assert acme.delete(f"{T}/tokens/{first_id}").status_code == 200  # the owner lost her only token
    assert_problem(acme.get(T), 401, "unauthenticated")
    before = head(acme)
    no_reason = acme.post(f"{T}/owner-token", "operator", json={})
    assert_problem(no_reason, 422, "validation_error")
    assert head(acme) == before
    issued = acme.post(f"{T}/owner-token", "operator", json={"label": "recovery"}, headers={"X-Reason": "ticket 4711"})
    assert issued.status_code == 201, issued.text
    acme.tokens["olga"] = issued.json()["token"]
    assert acme.get(T).status_code == 200
    entry = acme.events()[-1]
    assert entry["event_type"] == "TokenIssued" and entry["actor"] == "operator" and entry["reason"] == "ticket 4711"
    assert entry["subject"] == "olga"


def test_R_T6_issuing_an_owner_token_revokes_none_and_is_the_operators_alone(acme: Api) -> None:
    acme.add_member("ada", "admin")
    assert_problem(acme.post(f"{T}/owner-token", "ada", json={}, headers={"X-Reason": "x"}), 403, "forbidden")
    assert_problem(acme.post(f"{T}/owner-token", "olga", json={}, headers={"X-Reason": "x"}), 403, "forbidden")
    issued = acme.post(f"{T}/owner-token", "operator", headers={"X-Reason": "second device"})
    assert issued.status_code == 201
    assert acme.get(T).status_code == 200  # the old owner token still works
    assert acme.get(T, headers={"Authorization": f"Bearer {issued.json()['token']}"}, who=None).status_code == 200
    assert_problem(acme.post("/v1/tenants/nope/owner-token", "operator", headers={"X-Reason": "x"}), 404, "not_found")
