"""R-R3 what-if and R-R4 assertions over HTTP, on both databases: answers, permissions, bad input, and that
nothing is ever recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.http.client import TENANT, Api, assert_problem

WHAT_IF = f"/v1/tenants/{TENANT}/what-if"
ASSERTIONS = f"/v1/tenants/{TENANT}/assertions"
ASSISTANT = {
    "role_id": "assistant",
    "name": "Assistant",
    "includes": ["marketing"],
    "permissions": [{"permission": "leads.view_details", "scope": "all"}],
}
WEAKER = {**ASSISTANT, "permissions": []}


def _now(api: Api) -> datetime:
    # The manual clock starts at the system time; every test moves it forward explicitly.
    return datetime.now(tz=UTC).replace(microsecond=0) + timedelta(days=1)


def _set(api: Api, instant: datetime) -> None:
    answer = api.post("/v1/clock", "operator", json={"now": instant.isoformat().replace("+00:00", "Z")})
    assert answer.status_code == 200, answer.text


def _text(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _story(acme: Api) -> tuple[datetime, datetime]:
    """assistant defined; anna holds it from t1; the clock then stands at t2."""
    t0 = _now(acme)
    _set(acme, t0)
    assert acme.post(f"/v1/tenants/{TENANT}/roles", json=ASSISTANT).status_code == 201
    t1 = t0 + timedelta(hours=1)
    _set(acme, t1)
    acme.add_member("anna", "assistant")
    acme.add_member("aud", "auditor")
    acme.add_member("bob", "broker")
    t2 = t1 + timedelta(hours=1)
    _set(acme, t2)
    return t0, t2


def test_r_r3_what_if_lists_losses_and_records_nothing(acme: Api) -> None:
    """R-R3: a weakened role shows who would have lost what, from when until when; the audit is untouched."""
    t0, t2 = _story(acme)
    before = acme.events()
    body = {"roles": [WEAKER], "from": _text(t0), "to": _text(t2)}
    answer = acme.post(WHAT_IF, "aud", json=body, headers={"Idempotency-Key": "what-if-1"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["from"] == _text(t0) and result["to"] == _text(t2)
    assert result["changes"] == [
        {
            "user_id": "anna",
            "permission": "leads.view_details",
            "scope": "all",
            "resource": None,
            "effect": "lost",
            "from": _text(t0 + timedelta(hours=1)),
            "until": _text(t2),
        }
    ]
    removed = acme.post(WHAT_IF, "operator", json={**body, "roles": [], "removed_roles": ["assistant"]}).json()
    assert {c["permission"] for c in removed["changes"]} >= {"leads.view_details", "marketing.ai_studio"}
    assert acme.events() == before


def test_r_r3_what_if_needs_audit_read_or_permissions_manage_and_good_input(acme: Api) -> None:
    """R-R3: brokers are refused (403 naming audit.read); bad catalogs and windows are 422."""
    t0, t2 = _story(acme)
    body = {"roles": [WEAKER], "from": _text(t0), "to": _text(t2)}
    refused = assert_problem(acme.post(WHAT_IF, "bob", json=body), 403, "forbidden")
    assert refused["missing_permission"] == "audit.read"
    builtin = {**body, "roles": [{**WEAKER, "role_id": "admin"}]}
    assert_problem(acme.post(WHAT_IF, json=builtin), 422, "validation_error")
    assert_problem(acme.post(WHAT_IF, json={**body, "removed_roles": ["ghost"]}), 422, "validation_error")
    assert_problem(acme.post(WHAT_IF, json={**body, "from": _text(t2), "to": _text(t0)}), 422, "validation_error")
    future = _text(t2 + timedelta(days=1))
    assert_problem(acme.post(WHAT_IF, json={**body, "to": future}), 422, "validation_error")
    assert_problem(acme.post(WHAT_IF, json={"roles": []}), 422, "validation_error")
    assert_problem(acme.post("/v1/tenants/nope/what-if", "operator", json=body), 404, "not_found")


def test_r_r4_assertions_fail_usefully_and_pass_under_a_weakened_role(acme: Api) -> None:
    """R-R4: failures repeat the assertion exactly as sent and say what was found; `roles` checks a what-if
    catalog; nothing is recorded."""
    t0, t2 = _story(acme)
    before = acme.events()
    sent = [
        {"user_id": "anna", "permission": "leads.view_details", "expect": "allow"},
        {"role": "assistant", "permission": "leads.view_details", "expect": "deny"},
        {"permission": "users.manage", "at_most": 1},
        {"user_id": "anna", "permission": "leads.list", "at": _text(t0).replace("Z", "+00:00"), "expect": "allow"},
        {
            "user_id": "bob",
            "permission": "leads.view_details",
            "resource": {"type": "lead", "id": "L-1"},
            "expect": "allow",
        },
    ]
    answer = acme.post(ASSERTIONS, "aud", json={"assertions": sent})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["passed"] is False and result["checked"] == 5
    assert [f["assertion"] for f in result["failed"]] == [sent[1], sent[3], sent[4]]
    assert result["failed"][0]["actual"]["members"] == ["anna"]
    assert result["failed"][1]["actual"]["reason"] == "not_a_member"
    assert result["failed"][2]["actual"]["reason"] == "not_assigned"
    weakened = acme.post(ASSERTIONS, json={"assertions": sent[1:2], "roles": [WEAKER]}).json()
    assert weakened == {"passed": True, "checked": 1, "failed": []}
    assert acme.events() == before


def test_r_r4_bad_assertions_are_validation_errors(acme: Api) -> None:
    """R-R4: an unknown form, a role assertion expecting allow, a boolean count or a future instant are 422."""
    _story(acme)
    for bad in (
        {"user_id": "anna", "permission": "leads.list"},
        {"role": "assistant", "permission": "leads.list", "expect": "allow"},
        {"permission": "leads.list", "at_most": True},
        {"permission": "leads.wizardry", "at_most": 1},
    ):
        assert_problem(acme.post(ASSERTIONS, json={"assertions": [bad]}), 422, "validation_error")
    later = _text(_now(acme) + timedelta(days=30))
    assert_problem(acme.post(ASSERTIONS, json={"assertions": [], "as_of": later}), 422, "validation_error")
    refused = assert_problem(acme.post(ASSERTIONS, "bob", json={"assertions": []}), 403, "forbidden")
    assert refused["missing_permission"] == "audit.read"
