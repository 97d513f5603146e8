"""The console over plain HTTP: sessions, CSRF, permissions and isolation as the API has them (R-X5, R-L4, R-L5,
R-C2), admin actions through the API's commands with the reason in the audit trail (R-L1), and escaping (R-X7: what
the ledger writes out is safe to open). Rule ids name the rule each page must honour as the API does; the console's
own contract (sessions, CSRF, CSP, package data) rides on R-X5 (nothing visible without a valid token)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from api.console.session import COOKIE, IDLE_SECONDS, SALT
from domain.application import hash_token
from tests.api.console.conftest import csrf_of, set_clock, sign_in
from tests.api.http.client import OPERATOR_TOKEN, TENANT, Api

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
ROOT = Path(__file__).resolve().parents[3]


def audit_count(api: Api) -> int:
    return len(api.events())


def test_R_X5_every_page_redirects_to_sign_in_without_a_session(story: tuple[Api, Any]) -> None:
    """Without a session every page answers 303 to the sign-in page (and says nothing about the tenant, R-X5)."""
    api, _ = story
    for path in [*PAGES, "/console/t/no-such-tenant/audit"]:
        answer = api.http.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/sign-in?next=")


def test_R_X5_sign_in_with_a_wrong_token_shows_the_form_again_with_401(story: tuple[Api, Any]) -> None:
    api, _ = story
    answer = api.http.post("/console/sign-in", data={"token": "not-a-token"}, follow_redirects=False)
    assert answer.status_code == 401
    assert 'name="token"' in answer.text and "not accepted" in answer.text
    assert COOKIE not in answer.headers.get("set-cookie", "")


def test_R_X5_session_cookie_is_httponly_strict_and_secure_over_https(story: tuple[Api, Any]) -> None:
    api, _ = story
    answer = api.http.post(
        "https://testserver/console/sign-in", data={"token": api.tokens["olga"]}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/console/t/{TENANT}"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(COOKIE) and "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
    plain = api.http.post("/console/sign-in", data={"token": api.tokens["olga"]}, follow_redirects=False)
    assert "secure" not in plain.headers["set-cookie"].lower()


def test_R_X7_pages_carry_a_content_security_policy_without_inline_scripts(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "olga")
    answer = api.http.get(f"/console/t/{TENANT}")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in answer.text and " style=" not in answer.text


def test_R_X5_a_session_idle_for_8_hours_has_ended(story: tuple[Api, Any]) -> None:
    api, _ = story
    key = api.http.app.state.console_key

    class Stale(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - IDLE_SECONDS - 60

    serializer = URLSafeTimedSerializer(key, salt=SALT)
    fresh = {"k": "operator", "h": hash_token(OPERATOR_TOKEN), "c": "x"}
    api.http.cookies.set(COOKIE, serializer.dumps(fresh), path="/console")
    assert api.http.get("/console/tenants", follow_redirects=False).status_code == 200
    api.http.cookies.clear()
    stale = URLSafeTimedSerializer(key, salt=SALT, signer=Stale)
    api.http.cookies.set(COOKIE, stale.dumps(fresh), path="/console")
    assert api.http.get("/console/tenants", follow_redirects=False).status_code == 303


def test_R_X5_sign_out_ends_the_session_and_needs_the_csrf_token(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "olga")
    page = api.http.get(f"/console/t/{TENANT}")
    assert api.http.post("/console/sign-out", data={}, follow_redirects=False).status_code == 403
    answer = api.http.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    assert api.http.get(f"/console/t/{TENANT}", follow_redirects=False).status_code == 303


def test_R_Z1_a_revoked_token_ends_its_console_session(story: tuple[Api, Any]) -> None:
    """Every page resolves the token again: revoking it (here by removing the member) signs the browser out."""
    api, _ = story
    sign_in(api, "bob")
    assert api.http.get(f"/console/t/{TENANT}/members", follow_redirects=False).status_code == 200
    assert api.delete(f"/v1/tenants/{TENANT}/members/bob").status_code == 200
    assert api.http.get(f"/console/t/{TENANT}/members", follow_redirects=False).status_code == 303


def test_R_L4_a_broker_gets_403_on_the_audit_page(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "bob")
    for path in ("audit", "access-report", "diff", "why", "audit/export"):
        answer = api.http.get(f"/console/t/{TENANT}/{path}")
        assert answer.status_code == 403, path
        assert answer.headers["content-type"].startswith("text/html") and "audit.read" in answer.text
    assert api.http.get("/console/tenants").status_code == 403


def test_R_X5_another_tenant_answers_404_in_html(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "olga")
    for tenant in ("other", "no-such-tenant"):
        answer = api.http.get(f"/console/t/{tenant}/members")
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
        assert "Not found" in answer.text


def test_R_T6_the_operator_sees_every_tenant(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "operator")
    answer = api.http.get("/console/tenants")
    assert answer.status_code == 200 and "acme" in answer.text and "other" in answer.text
    assert api.http.get("/console/t/other/audit").status_code == 200


def test_R_X6_csrf_refusal_records_nothing(story: tuple[Api, Any]) -> None:
    """A changing form without its CSRF token (or with another session's) answers 403; the store is untouched."""
    api, ids = story
    sign_in(api, "olga")
    before = audit_count(api)
    posts = [
        ("/console/t/acme/members/bob/role", {"role": "manager", "reason": "x"}),
        (f"/console/t/acme/grants/{ids['grant_id']}/revocation", {"reason": "x"}),
        (f"/console/t/acme/restrictions/{ids['restriction_id']}/lifting", {"reason": "x"}),
        ("/console/t/acme/invitations", {"email": "new@acme.example", "role": "broker", "reason": "x"}),
        ("/console/t/acme/addons/addon_1/cancellation", {"reason": "x"}),
    ]
    for path, form in posts:
        for token in (None, "forged"):
            data = form if token is None else {**form, "csrf_token": token}
            answer = api.http.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, path
            assert "CSRF" in answer.text
    assert audit_count(api) == before
    assert api.get(f"/v1/tenants/{TENANT}/members/bob").json()["role"] == "broker"


def test_R_L1_role_change_goes_through_the_command_with_its_reason(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "ada")
    page = api.http.get(f"/console/t/{TENANT}/members/bob")
    assert 'action="/console/t/acme/members/bob/role"' in page.text
    reason = "<script>alert('x')</script> promoted after review"
    answer = api.http.post(
        f"/console/t/{TENANT}/members/bob/role",
        data={"role": "manager", "reason": reason, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    changed = [e for e in api.events() if e["event_type"] == "MemberRoleChanged"]
    assert changed[-1]["reason"] == reason and changed[-1]["actor"] == "ada"
    audit = api.http.get(f"/console/t/{TENANT}/audit", params={"type": "MemberRoleChanged"})
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; promoted after review" in audit.text
    assert "<script>alert" not in audit.text


def test_R_T2_rules_answer_in_words_and_record_nothing(story: tuple[Api, Any]) -> None:
    """R-P6 / R-T2 through the console: the ledger's refusal, as a page, and no event."""
    api, _ = story
    sign_in(api, "ada")
    page = api.http.get(f"/console/t/{TENANT}/members/olga")
    before = audit_count(api)
    answer = api.http.post(
        f"/console/t/{TENANT}/members/olga/role",
        data={"role": "broker", "reason": "try", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 409 and "owner_immutable" in answer.text
    assert audit_count(api) == before
    bad = api.http.post(
        f"/console/t/{TENANT}/members/bob/role",
        data={"role": "NOT A ROLE", "reason": "try", "csrf_token": csrf_of(page.text)},
    )
    assert bad.status_code == 422 and "role" in bad.text
    assert audit_count(api) == before


def test_R_I1_the_owner_invites_and_sees_the_token_once(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "olga")
    page = api.http.get(f"/console/t/{TENANT}/members")
    answer = api.http.post(
        f"/console/t/{TENANT}/invitations",
        data={"email": "new@acme.example", "role": "broker", "reason": "new hire", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 200
    token = re.search(r'<code class="secret">([^<]+)</code>', answer.text)
    assert token, answer.text
    accepted = api.post(
        "/v1/invitations/accept", None, json={"token": token.group(1), "user_id": "newbie", "name": "New Broker"}
    )
    assert accepted.status_code == 201, accepted.text
    sent = [e for e in api.events() if e["event_type"] == "InvitationSent"]
    assert sent and sent[-1]["reason"] == "new hire"


def test_R_C2_why_names_the_decision_its_sources_and_events(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    answer = api.http.get(
        f"/console/t/{TENANT}/why",
        params={
            "user_id": "marie",
            "permission": "leads.view_details",
            "resource_type": "lead",
            "resource_id": "L-17",
            "as_of": "2027-03-01T12:00",
        },
    )
    assert answer.status_code == 200
    assert "allowed" in answer.text and "assignment of lead:L-17" in answer.text
    assert "ResourcesAssigned" in answer.text and f"/console/t/{TENANT}/audit?since=" in answer.text
    before = api.http.get(
        f"/console/t/{TENANT}/why",
        params={
            "user_id": "marie",
            "permission": "leads.view_details",
            "resource_type": "lead",
            "resource_id": "L-17",
            "as_of": "2027-02-21",
        },
    )
    assert "denied" in before.text and "not_a_member" in before.text


def test_R_L5_access_report_as_of_a_date_and_its_csv(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    early = api.http.get(f"/console/t/{TENANT}/access-report", params={"as_of": "2027-02-22"})
    assert early.status_code == 200 and "2027-02-22T23:59:59" in early.text and ">marie<" not in early.text
    csv_answer = api.http.get(f"/console/t/{TENANT}/access-report", params={"as_of": "2027-03-01", "format": "csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    assert "marie,marie@acme.example,Marie,broker,leads.view_details,assigned" in csv_answer.text


def test_R_L4_audit_filters_export_and_verify(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    page = api.http.get(f"/console/t/{TENANT}/audit", params={"subject": "bob", "type": "PermissionGranted"})
    assert page.status_code == 200 and "quarterly billing review" in page.text and "MemberAdded</code>" not in page.text
    export = api.http.get(f"/console/t/{TENANT}/audit/export", params={"format": "csv", "subject": "bob"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "PermissionGranted" in export.text and "ResourcesAssigned" not in export.text
    verified = api.http.get(f"/console/t/{TENANT}/audit", params={"verify": "now"})
    assert "ok:" in verified.text and "the chain is intact" in verified.text
    for bad in ({"since": "yesterday"}, {"limit": "many"}, {"cursor": "not-a-cursor"}, {"actor": "bad id!"}):
        refused = api.http.get(f"/console/t/{TENANT}/audit", params=bad)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html"), bad


def test_R_R2_diff_groups_changes_by_member(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    answer = api.http.get(f"/console/t/{TENANT}/diff", params={"from": "2027-02-21", "to": "2027-03-01"})
    assert answer.status_code == 200
    assert ">marie</a></h2>" in answer.text and "gained" in answer.text and ">ada</a></h2>" not in answer.text


def test_R_X5_console_routes_stay_out_of_the_openapi_schema(story: tuple[Api, Any]) -> None:
    api, _ = story
    paths = api.http.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_R_X5_every_console_asset_is_package_data() -> None:
    """Templates and static files are installed with the package (no CDN, works offline)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["api.console"]
    console = ROOT / "api" / "console"
    files = [
        p.relative_to(console).as_posix()
        for d in ("templates", "static")
        for p in (console / d).rglob("*")
        if p.is_file()
    ]
    assert files and all(any(fnmatch(f, pattern) for pattern in patterns) for f in files), files


@pytest.mark.parametrize("path", ["/console/static/console.css"])
def test_R_X5_assets_are_served_from_the_package(story: tuple[Api, Any], path: str) -> None:
    api, _ = story
    assert api.http.get(path).status_code == 200


def test_R_C2_who_could_see_a_lead_checks_every_member_of_that_instant(story: tuple[Api, Any]) -> None:
    """Without a user id, the why page checks every member active at the instant through the batch check."""
    api, _ = story
    sign_in(api, "aude")
    params = {"permission": "leads.view_details", "resource_type": "lead", "resource_id": "L-17"}
    answer = api.http.get(f"/console/t/{TENANT}/why", params={**params, "as_of": "2027-03-01T12:00"})
    assert answer.status_code == 200
    rows = answer.text.split('<th scope="row">')[1:]
    decisions = {row.split("<br>")[0]: ("allowed" if ">allowed<" in row else "denied") for row in rows}
    assert decisions == {"olga": "allowed", "ada": "allowed", "aude": "denied", "bob": "denied", "marie": "allowed"}
    assert "assignment of lead:L-17" in answer.text
    before = api.http.get(f"/console/t/{TENANT}/why", params={**params, "as_of": "2027-02-21"})
    assert "marie" not in before.text


def test_R_P8_R_S3_lift_a_restriction_and_cancel_an_add_on_with_reasons(story: tuple[Api, Any]) -> None:
    """The console's other admin forms run the API's commands and store their reasons (R-L1)."""
    api, ids = story
    bought = api.post(f"/v1/tenants/{TENANT}/addons", json={"kind": "user-seats"})
    assert bought.status_code == 201, bought.text
    addon_id = bought.json()["addon"]["addon_id"]
    sign_in(api, "olga")
    member_page = api.http.get(f"/console/t/{TENANT}/members/bob")
    lifted = api.http.post(
        f"/console/t/{TENANT}/restrictions/{ids['restriction_id']}/lifting",
        data={"reason": "contacts again", "csrf_token": csrf_of(member_page.text)},
        follow_redirects=False,
    )
    assert lifted.status_code == 303 and lifted.headers["location"].endswith("/members/bob?done=restriction_lifted")
    overview = api.http.get(f"/console/t/{TENANT}")
    assert f'action="/console/t/acme/addons/{addon_id}/cancellation"' in overview.text
    cancelled = api.http.post(
        f"/console/t/{TENANT}/addons/{addon_id}/cancellation",
        data={"reason": "fewer brokers next term", "csrf_token": csrf_of(overview.text)},
        follow_redirects=True,
    )
    assert cancelled.status_code == 200 and "The add-on was cancelled" in cancelled.text
    reasons = {e["event_type"]: e["reason"] for e in api.events()}
    assert reasons["RestrictionLifted"] == "contacts again"
    assert reasons["AddOnCancellationScheduled"] == "fewer brokers next term"


def test_R_T6_the_operator_reads_but_has_no_command_on_a_tenant(story: tuple[Api, Any]) -> None:
    """R-T6 as the API has it: the operator sees no admin form, and a forged one is refused with nothing recorded."""
    api, ids = story
    sign_in(api, "operator")
    page = api.http.get(f"/console/t/{TENANT}/members/bob")
    assert page.status_code == 200 and "/revocation" not in page.text and "/role" not in page.text
    before = audit_count(api)
    answer = api.http.post(
        f"/console/t/{TENANT}/grants/{ids['grant_id']}/revocation",
        data={"reason": "x", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 403 and "operator" in answer.text
    assert audit_count(api) == before


def test_R_X6_a_reason_too_long_or_with_control_characters_is_refused_and_records_nothing(
    story: tuple[Api, Any],
) -> None:
    api, ids = story
    sign_in(api, "olga")
    page = api.http.get(f"/console/t/{TENANT}/members/bob")
    before = audit_count(api)
    answer = api.http.post(
        f"/console/t/{TENANT}/grants/{ids['grant_id']}/revocation",
        data={"reason": "x" * 501, "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 422 and "500 characters" in answer.text
    escape = api.http.post(
        f"/console/t/{TENANT}/grants/{ids['grant_id']}/revocation",
        data={"reason": "ok \x1b[31mred", "csrf_token": csrf_of(page.text)},
    )
    assert escape.status_code == 422 and "control character" in escape.text
    assert audit_count(api) == before


def test_R_R3_what_if_shows_who_would_have_lost_what_and_records_nothing(story: tuple[Api, Any]) -> None:
    """A pasted catalog (YAML) through the API's what-if route: a custom role weakened, its holder's losses."""
    api, _ = story
    role = {
        "role_id": "assistant",
        "name": "Assistant",
        "includes": [],
        "permissions": [{"permission": "billing.view", "scope": "all"}],
    }
    assert api.post(f"/v1/tenants/{TENANT}/roles", json=role).status_code == 201
    sign_in(api, "olga")
    page = api.http.get(f"/console/t/{TENANT}/members/aude")
    assert (
        api.http.post(
            f"/console/t/{TENANT}/members/aude/role",
            data={"role": "assistant", "reason": "for the test", "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        ).status_code
        == 303
    )
    set_clock(api, "2027-03-05T12:00:00Z")
    before = audit_count(api)
    catalog = "roles:\n  - role_id: assistant\n    name: Assistant\n    includes: []\n    permissions: []\n"
    answer = api.http.post(
        f"/console/t/{TENANT}/what-if", data={"catalog": catalog, "from": "2027-03-03", "to": "2027-03-04"}
    )
    assert answer.status_code == 200, answer.text
    assert ">aude</a></h3>" in answer.text and "billing.view" in answer.text and "lost" in answer.text
    assert audit_count(api) == before
    broken = api.http.post(
        f"/console/t/{TENANT}/what-if", data={"catalog": "roles: [", "from": "2027-03-03", "to": "2027-03-04"}
    )
    assert broken.status_code == 422 and "not YAML or JSON" in broken.text
    sign_in(api, "bob")
    assert api.http.get(f"/console/t/{TENANT}/what-if").status_code == 403


def test_R_C5_changes_page_lists_the_feed_newest_first_and_pages_after_a_position(story: tuple[Api, Any]) -> None:
    """The API's change feed as a live list (a meta refresh, no script); `after` pages it as the API does."""
    api, _ = story
    feed = api.get(f"/v1/tenants/{TENANT}/changes", "aude", params={"limit": 1000}).json()["items"]
    assert feed, "the story changes access"
    sign_in(api, "aude")
    live = api.http.get(f"/console/t/{TENANT}/changes")
    assert live.status_code == 200 and '<meta http-equiv="refresh"' in live.text
    shown = re.findall(r'<td class="num">(\d+:\d+)</td>', live.text)
    assert shown == [f"{c['position']}:{c['index']}" for c in reversed(feed)][: len(shown)] and shown
    marie = api.http.get(f"/console/t/{TENANT}/changes", params={"user_id": "marie", "permission": "leads.list"})
    assert ">marie</a></th>" in marie.text and ">bob</a></th>" not in marie.text
    first = feed[0]["position"]
    paged = api.http.get(f"/console/t/{TENANT}/changes", params={"after": str(first)})
    assert '<meta http-equiv="refresh"' not in paged.text
    after_first = re.findall(r'<td class="num">(\d+):\d+</td>', paged.text)
    assert after_first and all(int(position) > first for position in after_first)
    assert api.http.get(f"/console/t/{TENANT}/changes", params={"after": "soon"}).status_code == 422
    sign_in(api, "bob")
    assert api.http.get(f"/console/t/{TENANT}/changes").status_code == 403
