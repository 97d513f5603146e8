"""Load the largest histories into every database at once, one process per database, before the figures that
need them: generating and projecting a million events is most of a full run, and the databases can share the two
cores while nothing is being measured.

`python -m bench.preload URL KEY EVENTS OUT` generates the history (deterministic, as `bench.workload` does),
loads it into the database at URL, and writes its metadata and setup times to OUT as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.context import DbRun, history_key, log, store_history
from bench.workload import History, churned_history, history_start

PRELOAD_MIN = 200_000  # histories at least this long are loaded this way
ROOT = Path(__file__).resolve().parent.parent


def preload(dbs: list[DbRun], counts: list[int]) -> None:
    """Load each history of `counts` events (≥ PRELOAD_MIN) into every db not having it, all dbs in parallel."""
    for events in sorted({n for n in counts if n >= PRELOAD_MIN}):
        key = history_key(events)
        todo = [db for db in dbs if key not in db.loaded]
        if not todo:
            continue
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="accessledger-bench-preload-") as tmp:
            jobs = []
            for db in todo:
                out = Path(tmp) / f"{db.kind}.json"
                command = [sys.executable, "-m", "bench.preload", db.url, key, str(events), str(out)]
                jobs.append((db, out, subprocess.Popen(command, cwd=ROOT)))
            for db, out, process in jobs:
                if process.wait() != 0:
                    raise RuntimeError(f"preloading {key} into {db.kind} failed ({process.returncode})")
                data = json.loads(out.read_text(encoding="utf-8"))
                history = History.from_metadata(data["history"])
                db.setup[f"{key}: generate {events} events (s)"] = round(data["generated"], 2)
                db.record(history, data["inserted"], data["projected"])
                db.services.runner.position()  # this process's read side sees what the other one projected
        names = ", ".join(db.kind for db in todo)
        log(f"preloaded {key} into {names} in parallel: {time.perf_counter() - started:.0f} s")


def main(url: str, key: str, events: int, out: str) -> None:
    from api.runtime import build_services
    from api.settings import Settings

    started = time.perf_counter()
    history = churned_history(key, events, history_start(events))
    generated = time.perf_counter() - started
    services = build_services(Settings(database_url=url, sweep_interval_seconds=0))
    try:
        inserted, projected = store_history(services, history)
    finally:
        services.close()
    payload = {"history": history.metadata(), "generated": generated, "inserted": inserted, "projected": projected}
    Path(out).write_text(json.dumps(payload), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
