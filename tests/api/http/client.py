"""The HTTP API tests' client: a TestClient that speaks as the operator or as a member, the standard tenant, and
the problem+json assertion. The fixtures that build it are in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

OPERATOR_TOKEN = "operator-token-for-tests-0123456789abcdef"
TENANT = "acme"
PLAN = {"name": "basic", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"}
OWNER = {"user_id": "olga", "email": "olga@acme.example", "name": "Olga Owner"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """A TestClient plus the tokens handed out so far (`tokens[user_id]`)."""

    http: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str, **headers: str) -> dict[str, str]:
        """Headers for a request by `who` ("operator" or a user id whose token we hold)."""
        token = OPERATOR_TOKEN if who == "operator" else self.tokens[who]
        return {**bearer(token), **headers}

    def request(self, method: str, path: str, who: str | None = "olga", **kw: Any) -> Any:
        headers = {**(self.as_(who) if who else {}), **kw.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kw)

    def get(self, path: str, who: str | None = "olga", **kw: Any) -> Any:
        return self.request("GET", path, who, **kw)

    def post(self, path: str, who: str | None = "olga", **kw: Any) -> Any:
        return self.request("POST", path, who, **kw)

    def put(self, path: str, who: str | None = "olga", **kw: Any) -> Any:
        return self.request("PUT", path, who, **kw)

    def delete(self, path: str, who: str | None = "olga", **kw: Any) -> Any:
        return self.request("DELETE", path, who, **kw)

    def open_tenant(self, tenant_id: str = TENANT, owner: dict[str, str] | None = None, **plan: Any) -> dict[str, Any]:
        """Open a tenant as the operator; remembers the owner's token."""
        owner = owner or ({**OWNER} if tenant_id == TENANT else _owner_of(tenant_id))
        body = {"tenant_id": tenant_id, "name": f"{tenant_id} Ltd", "plan": {**PLAN, **plan}, "owner": owner}
        answer = self.post("/v1/tenants", "operator", json=body)
        assert answer.status_code == 201, answer.text
        self.tokens[owner["user_id"]] = answer.json()["owner_token"]
        return answer.json()

    def add_member(self, user_id: str, role: str = "broker", tenant_id: str = TENANT, by: str = "olga") -> Any:
        """Add a member directly; remembers its token."""
        body = {"user_id": user_id, "email": f"{user_id}@{tenant_id}.example", "name": user_id.title(), "role": role}
        answer = self.post(f"/v1/tenants/{tenant_id}/members", by, json=body)
        assert answer.status_code == 201, answer.text
        self.tokens[user_id] = answer.json()["token"]
        return answer.json()

    def events(self, tenant_id: str = TENANT) -> list[dict[str, Any]]:
        """Every audit entry of the tenant (read as the operator)."""
        answer = self.get(f"/v1/tenants/{tenant_id}/audit", "operator", params={"limit": 1000})
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]


def _owner_of(tenant_id: str) -> dict[str, str]:
    return {"user_id": f"owner-{tenant_id}", "email": f"owner@{tenant_id}.example", "name": f"Owner of {tenant_id}"}


def assert_problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    """The answer is problem+json with this status and code (RFC 9457 members present)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers["content-type"]
    body = answer.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body
