"""Helpers of the security suite: the event store's head, to prove a refused request recorded nothing."""

from __future__ import annotations

from typing import Any

from tests.api.http.client import Api


def head(api: Api) -> int:
    """The event store's newest global position, read from the serving app's ledger."""
    return api.http.app.state.services.ledger.head_position()


def check(api: Api, user_id: str, permission: str, resource: str | None = None, who: str = "olga") -> Any:
    params = {"user_id": user_id, "permission": permission}
    if resource:
        params["resource_type"], params["resource_id"] = resource.split(":", 1)
    answer = api.get("/v1/tenants/acme/check", who, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()
