"""HTTP commands (add then remove a member, one client, one after the other) through a real `accessledger serve`,
beside the same pair in-process through the application service (`AccessLedger`) on the same database in the
same run; and the pair's p50 over HTTP (goals: ≤ 5 ms on SQLite, ≤ 10 ms on PostgreSQL)."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx

from bench.commands import pairs
from bench.context import DbRun, log
from bench.harness import Row, Sizes
from bench.server import Server, open_tenant

FIGURE = "HTTP command add+remove vs in-process"
P50 = {"sqlite": 5e-3, "postgresql": 10e-3}


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [(FIGURE, "ratio ≥ 0.40", "cmd/s"), ("HTTP command p50", "≤ 5 ms SQLite, ≤ 10 ms PostgreSQL", "s")]


def _http_pairs(client: httpx.Client, tenant: str, count: int, tag: str) -> list[float]:
    spent = []
    for i in range(count):
        user = f"h-{tag}-{i}"
        body = {"user_id": user, "email": f"{user}@bench.example", "name": "H", "role": "broker"}
        started = time.perf_counter()
        added = client.post(f"/v1/tenants/{tenant}/members", json=body)
        removed = client.delete(f"/v1/tenants/{tenant}/members/{user}")
        spent.append(time.perf_counter() - started)
        if added.status_code != 201 or removed.status_code != 200:
            raise RuntimeError(f"HTTP command answered {added.status_code}/{removed.status_code}: {added.text[:200]}")
    return spent


def run(db: DbRun) -> None:
    count = max(20, db.sizes.command_pairs)
    tag = uuid.uuid4().hex[:6]
    tenant = f"httpcmd-{tag}"
    with Server(db) as server:
        headers = {"Authorization": f"Bearer {open_tenant(server, tenant)}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            _http_pairs(client, tenant, max(3, count // 10), tag + "w")
            half = max(1, count // 2)
            http = _http_pairs(client, tenant, half, tag + "a")
            local = pairs(db, tenant, half, tag + "b")
            http += _http_pairs(client, tenant, half, tag + "c")
            local += pairs(db, tenant, half, tag + "d")
    http_rate, local_rate = 2 / statistics.fmean(http), 2 / statistics.fmean(local)
    p50 = statistics.median(http) / 2
    log(
        f"{db.kind}: HTTP commands {http_rate:,.0f}/s (p50 {p50 * 1e3:.2f} ms) vs in-process {local_rate:,.0f}/s "
        f"(p50 {statistics.median(local) / 2 * 1e3:.2f} ms)"
    )
    ratio = http_rate / local_rate
    db.add(
        Row(
            FIGURE,
            "",
            http_rate,
            local_rate,
            "cmd/s",
            "in-process AccessLedger",
            "ratio ≥ 0.40",
            ratio >= 0.40,
            ratio,
            f"{2 * len(http)} commands, one client, interleaved halves",
        )
    )
    goal = P50[db.kind]
    db.add(
        Row(
            "HTTP command p50",
            "",
            p50,
            statistics.median(local) / 2,
            "s",
            "in-process p50",
            f"≤ {goal * 1e3:.0f} ms",
            p50 <= goal,
            p50 / (statistics.median(local) / 2),
        )
    )
