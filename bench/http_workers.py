"""Two API processes serving `GET /check` (`accessledger serve --workers 2` on PostgreSQL) beside one process, same
load generator, same run: req/s per process. On a 2-core machine that also runs the load generator and the database
the ratio shows what a request costs, not how far the service scales; on SQLite `--workers` serves one process."""

from __future__ import annotations

import httpx

from bench.context import DbRun, log
from bench.harness import Row, Sizes
from bench.http import CONNECTIONS, PATHS, check_paths
from bench.server import Server, load

FIGURE = "HTTP GET /check req/s per process, 2 API processes vs 1"


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [(FIGURE, "report", "req/s")]


def _best(db: DbRun, workers: int, paths: list[str], token: str) -> float:
    with Server(db, workers=workers) as server:
        probe = httpx.get(server.url + paths[0], headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if probe.status_code != 200:
            raise RuntimeError(f"GET /check answered {probe.status_code}: {probe.text[:300]}")
        load(server.url, paths, token, max(1.0, db.sizes.http_seconds / 2), CONNECTIONS * workers)  # warm
        runs = [load(server.url, paths, token, db.sizes.http_seconds, CONNECTIONS * workers) for _ in range(2)]
    return max(run.rps for run in runs)


def run(db: DbRun) -> None:
    # On SQLite `serve --workers 2` explains why and serves one process: that is what is measured there.
    processes = 2 if db.kind == "postgresql" else 1
    paths, token = check_paths(db, PATHS)
    one = _best(db, 1, paths, token)
    two = _best(db, 2, paths, token)
    per = two / processes
    log(f"{db.kind}: /check one process {one:,.0f} req/s; --workers 2: {two:,.0f} req/s ({per:,.0f} per process)")
    note = "per process of `serve --workers 2`; on 2 shared cores this shows the per-request cost, not scaling"
    if processes == 1:
        note = "SQLite: `serve --workers 2` serves one process (one writer per file), so this is one beside one"
    db.add(Row(FIGURE, "", per, one, "req/s", "one process", "report", True, per / one if one else None, note))
