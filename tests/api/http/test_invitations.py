"""Invitations over HTTP (R-I1…R-I3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.http.client import TENANT, Api, assert_problem, bearer

INVITATIONS = f"/v1/tenants/{TENANT}/invitations"


def invite(api: Api, email: str = "ivy@acme.example", role: str = "broker") -> dict:
    answer = api.post(INVITATIONS, json={"email": email, "role": role})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_R_I1_invite_answers_the_invitation_and_its_token(acme: Api) -> None:
    sent = invite(acme)
    invitation = sent["invitation"]
    assert invitation["status"] == "pending" and invitation["invited_by"] == "olga"
    assert sent["token"].startswith(f"inv.{TENANT}.")
    assert acme.get(f"/v1/tenants/{TENANT}").json()["seats"]["pending_invitations"] == 1
    assert_problem(
        acme.post(INVITATIONS, json={"email": "ivy@acme.example", "role": "broker"}), 409, "invitation_pending"
    )


def test_list_invitations_needs_users_manage(acme: Api) -> None:
    invite(acme)
    acme.add_member("bob")
    listing = acme.get(INVITATIONS, params={"status": "pending"}).json()
    assert [i["email"] for i in listing["items"]] == ["ivy@acme.example"]
    assert acme.get(INVITATIONS, params={"status": "accepted"}).json()["items"] == []
    assert_problem(acme.get(INVITATIONS, params={"status": "lost"}), 422, "validation_error")
    assert_problem(acme.get(INVITATIONS, "bob"), 403, "forbidden")


def test_R_I2_accept_with_the_token_in_the_body(acme: Api) -> None:
    token = invite(acme)["token"]
    body = {"token": token, "user_id": "ivy", "name": "Ivy"}
    # An Authorization header is ignored here.
    accepted = acme.http.post("/v1/invitations/accept", json=body, headers=bearer("whatever"))
    assert accepted.status_code == 201, accepted.text
    answer = accepted.json()
    assert answer["tenant_id"] == TENANT and answer["member"]["user_id"] == "ivy"
    assert answer["member"]["email"] == "ivy@acme.example"
    acme.tokens["ivy"] = answer["token"]
    assert acme.get(f"/v1/tenants/{TENANT}", "ivy").status_code == 200
    again = acme.http.post("/v1/invitations/accept", json={**body, "user_id": "ivy2"})
    assert_problem(again, 409, "invitation_not_pending")


def test_R_I2_unknown_tokens_are_unauthenticated(acme: Api) -> None:
    for token in ("nonsense", f"inv.{TENANT}.abcdef", "inv.nowhere.abcdef"):
        answer = acme.http.post("/v1/invitations/accept", json={"token": token, "user_id": "x", "name": "X"})
        assert_problem(answer, 401, "unauthenticated")
        assert_problem(acme.http.post("/v1/invitations/decline", json={"token": token}), 401, "unauthenticated")


def test_R_I2_decline(acme: Api) -> None:
    sent = invite(acme)
    declined = acme.http.post("/v1/invitations/decline", json={"token": sent["token"]})
    assert declined.status_code == 200 and declined.json()["position"] >= 1
    assert acme.get(INVITATIONS).json()["items"][0]["status"] == "declined"
    assert_problem(
        acme.http.post("/v1/invitations/decline", json={"token": sent["token"]}), 409, "invitation_not_pending"
    )


def test_R_I2_resend_replaces_the_token(acme: Api) -> None:
    sent = invite(acme)
    invitation_id = sent["invitation"]["invitation_id"]
    resent = acme.post(f"{INVITATIONS}/{invitation_id}/resend")
    assert resent.status_code == 200
    assert resent.json()["token"] != sent["token"]
    old = acme.http.post("/v1/invitations/accept", json={"token": sent["token"], "user_id": "ivy", "name": "Ivy"})
    assert_problem(old, 401, "unauthenticated")
    new = acme.http.post(
        "/v1/invitations/accept", json={"token": resent.json()["token"], "user_id": "ivy", "name": "I"}
    )
    assert new.status_code == 201
    assert_problem(acme.post(f"{INVITATIONS}/inv_999/resend"), 404, "not_found")


def test_R_I2_revoke(acme: Api) -> None:
    invitation_id = invite(acme)["invitation"]["invitation_id"]
    revoked = acme.delete(f"{INVITATIONS}/{invitation_id}")
    assert revoked.status_code == 200 and revoked.json()["invitation"]["status"] == "revoked"
    assert_problem(acme.delete(f"{INVITATIONS}/{invitation_id}"), 409, "invitation_not_pending")
    assert_problem(acme.delete(f"{INVITATIONS}/inv_999"), 404, "not_found")


def test_R_I1_an_invitation_expires_after_seven_days(acme: Api) -> None:
    sent = invite(acme)
    expires_at = datetime.fromisoformat(sent["invitation"]["expires_at"].replace("Z", "+00:00"))
    acme.post("/v1/clock", "operator", json={"now": (expires_at + timedelta(seconds=1)).isoformat()})
    assert acme.get(INVITATIONS).json()["items"][0]["status"] == "expired"
    late = acme.http.post("/v1/invitations/accept", json={"token": sent["token"], "user_id": "ivy", "name": "Ivy"})
    assert_problem(late, 409, "invitation_not_pending")
    assert "InvitationExpired" in [e["event_type"] for e in acme.events()]
