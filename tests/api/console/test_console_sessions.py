"""The console's own contract over plain HTTP: sessions (sign-in, idle end, sign-out, revoked tokens), CSRF, the
content security policy, isolation between tenants and callers (R-X5, R-L4, R-T6) and assets shipped as package
data. Rule ids name the rule each page must honour as the API does; the console's own contract rides on R-X5
(nothing visible without a valid token)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from api.console.session import COOKIE, IDLE_SECONDS, SALT
from domain.application import hash_token
from tests.api.console.conftest import PAGES, audit_count, csrf_of, sign_in
from tests.api.http.client import OPERATOR_TOKEN, TENANT, Api

ROOT = Path(__file__).resolve().parents[3]


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
