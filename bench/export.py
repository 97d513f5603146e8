"""Audit export (R-L4) of one tenant's whole trail as JSON Lines to a file, beside a raw export of the same rows
(the same streamed SELECT, each stored row dumped as it comes); rows per second and resident memory growth.

Memory is this process's VmRSS (/proc/self/status), sampled at every chunk written, against the value just before
the export started."""

from __future__ import annotations

import gc
import json
import os
import tempfile
import time

from bench.context import DbRun, log
from bench.harness import Row, Sizes, count_label, rss_bytes
from projections.audit.projection import TABLE, private_reader

MB = 1024 * 1024


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    label = count_label(sizes.export_entries)
    return [
        (f"audit export JSONL of {label} entries", "≥ 50,000 rows/s", "rows/s"),
        (f"audit export RSS growth ({label} entries)", "≤ 50 MB", "MB"),
    ]


def ours(db: DbRun, tenant_id: str, path: str) -> tuple[int, float, float]:
    """(rows, seconds, peak RSS growth in MB) of `Queries.audit_export`."""
    gc.collect()
    before = peak = rss_bytes()
    rows = 0
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8") as out:
        for chunk in db.queries.audit_export(tenant_id, "jsonl"):
            out.write(chunk)
            rows += chunk.count("\n")
            peak = max(peak, rss_bytes())
    return rows, time.perf_counter() - started, (peak - before) / MB


def raw(db: DbRun, tenant_id: str, path: str) -> tuple[int, float, float]:
    """The floor: the same rows streamed and written with one json.dumps each, nothing reshaped."""
    gc.collect()
    before = peak = rss_bytes()
    rows = 0
    started = time.perf_counter()
    dumps = json.dumps
    with open(path, "w", encoding="utf-8") as out, private_reader(db.services.store) as tx:
        lines: list[str] = []
        for row in tx.stream(f"SELECT * FROM {TABLE} WHERE tenant_id = ? ORDER BY sequence", (tenant_id,)):
            lines.append(dumps(row, default=str))
            rows += 1
            if len(lines) == 1000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
                peak = max(peak, rss_bytes())
        if lines:
            out.write("\n".join(lines) + "\n")
    return rows, time.perf_counter() - started, (peak - before) / MB


def run(db: DbRun) -> None:
    s = db.sizes
    history = db.history(s.export_entries)
    label = count_label(s.export_entries)
    handle, path = tempfile.mkstemp(prefix="accessledger-bench-export-", suffix=".jsonl")
    os.close(handle)
    try:
        raw_rows, raw_seconds, raw_mb = raw(db, history.tenant_id, path)
        rows, seconds, grown = ours(db, history.tenant_id, path)
        size_mb = os.path.getsize(path) / MB
    finally:
        os.unlink(path)
    if rows != raw_rows:
        raise RuntimeError(f"export wrote {rows} lines, the trail has {raw_rows} entries")
    rate, raw_rate = rows / seconds, raw_rows / raw_seconds
    log(
        f"{db.kind}: export {rows:,} entries ({size_mb:,.0f} MB) in {seconds:.1f} s = {rate:,.0f} rows/s, "
        f"RSS +{grown:.1f} MB; raw {raw_rate:,.0f} rows/s, RSS +{raw_mb:.1f} MB"
    )
    db.add(
        Row(
            f"audit export JSONL of {label} entries",
            "",
            rate,
            raw_rate,
            "rows/s",
            "raw rows dumped",
            "≥ 50,000 rows/s",
            rate >= 50_000,
            rate / raw_rate,
            f"{rows:,} entries, {size_mb:,.0f} MB written to a file",
        )
    )
    db.add(
        Row(
            f"audit export RSS growth ({label} entries)",
            "",
            grown,
            raw_mb,
            "MB",
            "raw",
            "≤ 50 MB",
            grown <= 50,
            grown / raw_mb if raw_mb > 0 else None,
        )
    )
