"""Bulk assignment of 10,000 leads over HTTP (one `POST .../assignments`, answered after the read side caught up),
beside the same command in-process (ledger call plus projection catch-up, no HTTP)."""

from __future__ import annotations

import statistics
import time

import httpx

from bench.context import DbRun, log
from bench.harness import Row, Sizes
from bench.server import Server
from domain.application import Actor


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [(f"bulk assignment of {sizes.bulk_ids:,} leads over HTTP", "≤ 1 s", "s")]


def run(db: DbRun) -> None:
    s = db.sizes
    history = db.matrix()
    tenant = history.tenant_id
    brokers = sorted(u for u, role in history.roles.items() if role == "broker")
    owner_token = history.token("olga")
    over_http: list[float] = []
    in_process: list[float] = []
    with Server(db) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        headers = {"Authorization": f"Bearer {owner_token}"}
        # Untimed: the server's first command (its connections, the tenant's first load), as a serving process has.
        warm = {"resource_type": "lead", "resource_ids": [f"BULK-W-{k}" for k in range(100)], "user_id": brokers[0]}
        client.post(f"/v1/tenants/{tenant}/assignments", json=warm, headers=headers).raise_for_status()
        for n in range(s.bulk_rounds):
            ids = [f"BULK-H{n}-{k:05d}" for k in range(s.bulk_ids)]
            body = {"resource_type": "lead", "resource_ids": ids, "user_id": brokers[n % len(brokers)]}
            started = time.perf_counter()
            answer = client.post(f"/v1/tenants/{tenant}/assignments", json=body, headers=headers)
            over_http.append(time.perf_counter() - started)
            if answer.status_code != 200 or answer.json().get("assigned") != s.bulk_ids:
                raise RuntimeError(f"bulk assignment answered {answer.status_code}: {answer.text[:300]}")
    runner = db.services.runner
    runner.catch_up()
    for n in range(s.bulk_rounds):
        ids = [f"BULK-P{n}-{k:05d}" for k in range(s.bulk_ids)]
        started = time.perf_counter()
        result = db.ledger.assign(
            tenant, Actor("olga"), resource_type="lead", resource_ids=ids, user_id=brokers[-1 - n % len(brokers)]
        )
        runner.catch_up(result.position)
        in_process.append(time.perf_counter() - started)
    ours, base = statistics.median(over_http), statistics.median(in_process)
    log(f"{db.kind}: bulk {s.bulk_ids:,} over HTTP {ours:.3f} s, in-process {base:.3f} s")
    db.add(
        Row(
            f"bulk assignment of {s.bulk_ids:,} leads over HTTP",
            "",
            ours,
            base,
            "s",
            "same command in-process",
            "≤ 1 s",
            ours <= 1.0,
            ours / base,
            f"median of {s.bulk_rounds}; the answer comes after the in-process projections caught up",
        )
    )
