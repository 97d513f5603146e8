"""HTTP `GET /check` under load beside a bare FastAPI app's trivial endpoint (bench/bare_app.py) served the same way
by uvicorn, with the same load generator, in the same run.

The server is a real `accessledger serve` process (one uvicorn worker, projections in-process, as shipped). The
caller is an auditor of the role-matrix tenant (audit.read may check anyone), so each request authenticates a
member token, admits the tenant and checks the caller's own right to ask before the check itself. The load is
closed-loop with a few connections, enough to keep the single worker busy; p99 is measured in that same run.
"""

from __future__ import annotations

import random
from urllib.parse import urlencode

import httpx

from bench.check import requests
from bench.context import DbRun, log
from bench.harness import Row, Sizes
from bench.server import Load, Server, load

CONNECTIONS = 2  # the single uvicorn worker is saturated at 2; more connections only queue
PATHS = 1000


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [
        ("HTTP GET /check req/s vs bare FastAPI", "ratio ≥ 0.50", "req/s"),
        ("HTTP GET /check p99 at that load", "≤ 5 ms", "s"),
    ]


def check_paths(db: DbRun, count: int) -> tuple[list[str], str]:
    history = db.matrix()
    auditor = sorted(u for u, role in history.roles.items() if role == "auditor")[0]
    paths = []
    for user, permission, resource in requests(history, count, seed=23):
        query = {"user_id": user, "permission": permission}
        if resource:
            query |= {"resource_type": resource[0], "resource_id": resource[1]}
        paths.append(f"/v1/tenants/{history.tenant_id}/check?{urlencode(query)}")
    random.Random(5).shuffle(paths)
    return paths, history.token(auditor)


def run(db: DbRun) -> None:
    s = db.sizes
    paths, token = check_paths(db, PATHS)
    with Server(db) as server, Server(db, bare=True) as bare:
        probe = httpx.get(server.url + paths[0], headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if probe.status_code != 200:
            raise RuntimeError(f"GET /check answered {probe.status_code}: {probe.text[:300]}")
        load(server.url, paths, token, max(1.0, s.http_seconds / 2), CONNECTIONS)  # warm: every member cached
        load(bare.url, ["/healthz"], None, 1.0, CONNECTIONS)
        healthz: list[Load] = []
        checks: list[Load] = []
        for _ in range(s.http_rounds):
            healthz.append(load(bare.url, ["/healthz"], None, s.http_seconds, CONNECTIONS))
            checks.append(load(server.url, paths, token, s.http_seconds, CONNECTIONS))
    best_h = max(healthz, key=lambda x: x.rps)
    best_c = max(checks, key=lambda x: x.rps)
    log(
        f"{db.kind}: bare FastAPI {best_h.rps:,.0f} req/s p99 {best_h.p99 * 1e3:.2f} ms; "
        f"/check {best_c.rps:,.0f} req/s p99 {best_c.p99 * 1e3:.2f} ms "
        f"({best_c.tool}, {CONNECTIONS} connections, errors {best_c.errors})"
    )
    clean = best_c.errors == 0 and best_h.errors == 0
    note = f"{best_c.tool}, {CONNECTIONS} connections, {s.http_seconds:.0f} s per run, best of {s.http_rounds}"
    if not clean:
        note += f"; errors or non-2xx: /check {best_c.errors}, bare FastAPI {best_h.errors}"
    extra = {"healthz": [vars(x) for x in healthz], "check": [vars(x) for x in checks]}
    ratio = best_c.rps / best_h.rps if best_h.rps else None
    db.add(
        Row(
            "HTTP GET /check req/s vs bare FastAPI",
            "",
            best_c.rps,
            best_h.rps,
            "req/s",
            "bare FastAPI /healthz",
            "ratio ≥ 0.50",
            clean and ratio is not None and ratio >= 0.50,
            ratio,
            note,
            extra,
        )
    )
    db.add(
        Row(
            "HTTP GET /check p99 at that load",
            "",
            best_c.p99,
            best_h.p99,
            "s",
            "bare FastAPI p99",
            "≤ 5 ms",
            clean and best_c.p99 <= 5e-3,
            best_c.p99 / best_h.p99 if best_h.p99 else None,
        )
    )
