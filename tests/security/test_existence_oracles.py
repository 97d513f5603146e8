"""R-X5 over HTTP: no answer tells a caller without a token of a tenant whether that tenant exists (finding 9)."""

from __future__ import annotations

import secrets
from typing import Any

from tests.api.http.client import Api


def shape(answer: Any) -> tuple[int, str, str, str | None]:
    body = answer.json()
    return answer.status_code, body["code"], body["detail"], answer.headers.get("www-authenticate")


def test_R_X5_finding9_declining_or_accepting_a_made_up_token_says_the_same_for_any_tenant(acme: Api) -> None:
    acme.open_tenant("second")
    for path, extra in (("/v1/invitations/decline", {}), ("/v1/invitations/accept", {"user_id": "x1", "name": "X"})):
        answers = {
            tenant: shape(acme.post(path, None, json={"token": f"inv.{tenant}.{secrets.token_urlsafe(32)}", **extra}))
            for tenant in ("acme", "second", "no-such-tenant", "zz")
        }
        assert len(set(answers.values())) == 1, answers
        assert next(iter(answers.values()))[0] == 401


def test_R_X5_a_foreign_tenant_looks_like_one_that_does_not_exist(acme: Api) -> None:
    acme.open_tenant("other")
    for path in ("", "/members", "/audit"):
        real = acme.get(f"/v1/tenants/other{path}")
        missing = acme.get(f"/v1/tenants/nothere{path}")
        assert real.status_code == missing.status_code == 404
        assert real.json()["detail"].replace("other", "?") == missing.json()["detail"].replace("nothere", "?")
    for path in ("/v1/tenants/other", "/v1/tenants/nothere"):
        assert shape(acme.get(path, None)) == shape(acme.get("/v1/tenants/acme", None))
