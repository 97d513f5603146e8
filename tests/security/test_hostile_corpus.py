"""R-X6 against every route: the hostile corpus (tests/security/corpus.py) replayed on every operation of the
app's OpenAPI document answers no 5xx and records nothing (the event store's head does not move)."""

from __future__ import annotations

from typing import Any

from tests.api.http.conftest import Api
from tests.api.http.tenant_routes import PLACEHOLDER, Route, body_of, path_of, populate, query_of
from tests.security.corpus import HEADERS, PATH_VALUES, QUERY_VALUES, RAW_BODIES, mutated_bodies
from tests.security.helpers import head

TENANT = "hostile"


def operations(api: Api) -> list[tuple[Route, list[str]]]:
    """Every operation of the app (method, path template, whether it takes a body) with its query parameters."""
    found = []
    for template, item in api.http.app.openapi()["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            queries = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
            found.append((Route(method.upper(), template, "requestBody" in operation), queries))
    assert len(found) > 40, "the enumeration of routes is broken"
    return sorted(found, key=lambda r: (r[0].template, r[0].method))


def valid_body(route: Route, world: Any) -> dict[str, Any] | None:
    if not route.has_body:
        return None
    if route.template.startswith("/v1/tenants/{tenant_id}"):
        return body_of(route, world)
    return {"token": "inv.x.y", "user_id": "someone", "name": "Some One", "now": "2030-01-01T00:00:00Z"}


def test_R_X6_the_hostile_corpus_against_every_route_answers_no_5xx_and_records_nothing(api: Api) -> None:
    world = populate(api, TENANT, "h")
    owner = f"owner-{TENANT}"
    before = head(api)
    failures: list[str] = []
    recorded: list[str] = []
    sent = 0

    def send(route: Route, path: str, what: str, **kwargs: Any) -> None:
        nonlocal sent
        sent += 1
        headers = {**api.as_(owner), "Content-Type": "application/json", **kwargs.pop("headers", {})}
        position = head(api)
        answer = api.http.request(route.method, path, headers=headers, **kwargs)
        if head(api) != position:
            recorded.append(f"{route} [{what}]: {answer.status_code} {answer.text[:120]}")
        if answer.status_code >= 500:
            failures.append(f"{route} [{what}]: {answer.status_code} {answer.text[:160]}")

    for route, queries in operations(api):
        path = path_of(route, world.ids)
        params = query_of(route, world)
        for name, raw in [*RAW_BODIES, *mutated_bodies(valid_body(route, world))]:
            if route.method != "GET":
                key = {"Idempotency-Key": f"hostile-{sent}"}  # the fingerprint reads the body too (finding 6)
                send(route, path, f"body {name}", content=raw, params=params, headers=key)
        for value in PATH_VALUES:
            for placeholder in PLACEHOLDER.finditer(route.template):
                spoilt = route.template.replace(placeholder.group(0), value)
                send(route, path_of(Route(route.method, spoilt, route.has_body), world.ids), f"path {value[:8]}")
        for name in queries:
            for value in QUERY_VALUES:
                send(route, path, f"query {name}={value[:8]!r}", params={**params, name: value})
        if route.method != "GET":
            for name, headers in HEADERS:
                send(route, path, f"header {name}", headers=headers, json=valid_body(route, world), params=params)
    assert not failures, f"{len(failures)} of {sent} hostile requests answered 5xx:\n" + "\n".join(failures[:40])
    assert not recorded, "hostile requests recorded something:\n" + "\n".join(recorded[:40])
    assert head(api) == before
    assert sent > 1000
