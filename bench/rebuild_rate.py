"""Rebuild rate (R-R1): events per second of a whole rebuild, the audit trail alone and every projection.

    .venv/bin/python -m bench.rebuild_rate [--database-url URL] [--events 50000] [--tenants 10]

Without a URL it uses a fresh SQLite file in a temporary folder. With a PostgreSQL URL, point it at an empty
database (e.g. `createdb -h 127.0.0.1 -U postgres al_bench`). The history is written straight through the tenant
aggregate in large saves (members come and go, roles change, tokens, grants, assignments), then projected once
incrementally and rebuilt: the figures are the rebuild's own, from the event store to swapped-in tables.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from api.runtime import open_runtime
from api.settings import Settings
from domain.application import AccessLedger, Actor, hash_token, new_token
from domain.clock import ManualClock
from domain.tenant.metadata import EventContext, acting
from projections import all_projections
from projections.audit.projection import AuditProjection
from projections.rebuild import rebuild

START = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
ROLES = ("marketing", "broker", "manager", "auditor")


def write_history(app: AccessLedger, clock: ManualClock, events: int, tenants: int, seed: int = 1) -> None:
    """About `events` events over `tenants` tenants, saved a few hundred at a time."""
    rng = random.Random(seed)
    names = [f"bench-{i}" for i in range(tenants)]
    for tenant_id in names:
        app.open_tenant(
            Actor("operator"),
            tenant_id=tenant_id,
            name=tenant_id,
            plan={"name": "big", "included_seats": 100_000, "billing_interval": "yearly", "currency": "EUR"},
            owner={"user_id": "olga", "email": f"olga@{tenant_id}.example", "name": "Olga"},
        )
    serial = 0
    while app.head_position() < events:
        tenant_id = rng.choice(names)
        tenant = app.load(tenant_id)
        clock.set(clock.now() + timedelta(minutes=1))
        context = EventContext(actor="olga", occurred_at=clock.now(), request_id=f"req_{serial}", reason="bench")
        with acting(context):
            while len(tenant.pending_events) < 400:
                serial += 1
                _one_command(tenant, rng, serial)
        app.save(tenant)


def _one_command(tenant: Any, rng: random.Random, serial: int) -> None:
    others = [u for u in tenant.members if u != "olga"]
    choice = rng.random()
    if choice < 0.35 or len(others) < 5:
        user = f"u{serial}"
        tenant.add_member(
            user_id=user,
            email=f"{user}@x.example",
            name=user,
            role=rng.choice(ROLES),
            token_id=f"tok_{serial}",
            token_hash=hash_token(new_token()),
        )
    elif choice < 0.55:
        tenant.change_role(rng.choice(others), rng.choice(ROLES))
    elif choice < 0.65:
        tenant.remove_member(rng.choice(others))
    elif choice < 0.8:
        tenant.grant(
            user_id=rng.choice(others),
            permission="leads.list",
            scope="all",
            resource=None,
            expires_at=None,
        )
    else:
        ids = [f"L{serial}-{i}" for i in range(rng.randint(1, 3))]
        managers = [u for u in others if tenant.members[u].role == "manager"]
        if managers:
            tenant.assign("lead", ids, rng.choice(managers))
        else:
            tenant.change_role(rng.choice(others), "manager")


def measure(url: str, events: int, tenants: int) -> dict[str, Any]:
    clock = ManualClock(START)
    runtime = open_runtime(Settings(database_url=url, sweep_interval_seconds=0), clock=clock)
    app, store = runtime.ledger, runtime.store
    try:
        write_history(app, clock, events, tenants)
        runtime.runner.catch_up()
        projections = all_projections()
        return {
            "events": app.head_position(),
            "audit": _timed(lambda: rebuild(app, store, [AuditProjection()])),
            "all_projections": _timed(lambda: rebuild(app, store, projections)),
        }
    finally:
        runtime.close()


def _timed(run: Any) -> dict[str, Any]:
    """The rebuild's answer plus this process's CPU seconds (a figure the machine's other load barely moves)."""
    cpu = time.process_time()
    result = run()
    result["cpu_seconds"] = round(time.process_time() - cpu, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    url = args.database_url
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='al_bench_')}/bench.db"
    result = measure(url, args.events, args.tenants)
    kind = url.split(":", 1)[0]
    print(f"{kind}: {result['events']} events")
    for label in ("audit", "all_projections"):
        run = result[label]
        cpu_rate = round(run["events"] / run["cpu_seconds"]) if run["cpu_seconds"] else 0
        print(
            f"  rebuild {label:16} {run['events_per_second']:>8} events/s ({run['seconds']} s wall, ok={run['ok']});"
            f" {cpu_rate} events per CPU-second of this process"
        )


if __name__ == "__main__":
    main()
