"""`python -m bench [--quick] [--only NAME] [--db sqlite|postgresql]`: every performance goal beside its baseline.

Each database gets a fresh SQLite file or PostgreSQL database (dropped afterwards); the table is printed and written
to latest.json and latest.md in a scratch directory outside the tree (bench/results with `--save`); the last line
says how many goals were met.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from bench.context import DbRun, fail_row, forget_generated, release_loaded
from bench.harness import Row, sizes_for, summary_line, text_table, write_results
from bench.preload import preload

# In the order they run: the rebuild before the deepest history is loaded, so it rebuilds a mid-sized database.
FIGURES = (
    "check",
    "http",
    "http_commands",
    "http_workers",
    "bulk",
    "rebuild",
    "commands",
    "appends",
    "asof",
    "compliance",
    "export",
    "hierarchy",
    "feeds",
)
DATABASES = ("sqlite", "postgresql")
# Figures whose largest histories are loaded beforehand into every database at once (see bench.preload).
PRELOADED = {"asof": lambda s: list(s.depths), "export": lambda s: [s.export_entries]}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 3 minutes")
    parser.add_argument(
        "--only", action="append", choices=FIGURES, metavar="NAME", help=f"run only this figure ({', '.join(FIGURES)})"
    )
    parser.add_argument("--db", choices=DATABASES, action="append", help="run only on this database")
    parser.add_argument("--save", action="store_true", help="write the results into bench/results (tracked)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    sizes = sizes_for(args.quick)
    figures = [f for f in FIGURES if not args.only or f in args.only]
    databases = [d for d in DATABASES if not args.db or d in args.db]
    print(f"bench ({sizes.name}): figures {', '.join(figures)} on {', '.join(databases)}", flush=True)
    rows: dict[str, list[Row]] = {kind: [] for kind in databases}
    dbs: list[DbRun] = []
    for kind in databases:
        try:
            dbs.append(DbRun(kind, sizes))
        except Exception as exc:  # an unreachable server: its goals are counted, none met
            for name in figures:
                for figure, goal, unit in importlib.import_module(f"bench.{name}").expected(sizes):
                    rows[kind].append(_fail(fail_row(figure, goal, unit, exc), kind))
    try:
        # Figure by figure, each on every database, so the longest setup (`preload`) runs on all at once.
        for name in figures:
            module = importlib.import_module(f"bench.{name}")
            if name in PRELOADED:
                preload(dbs, PRELOADED[name](sizes))
            for db in dbs:
                figure_started = time.perf_counter()
                before = len(db.rows)
                try:
                    module.run(db)
                except Exception as exc:
                    traceback.print_exc()
                    del db.rows[before:]
                    for figure, goal, unit in module.expected(sizes):
                        db.add(fail_row(figure, goal, unit, exc))
                print(f"  {name} on {db.kind}: {time.perf_counter() - figure_started:.1f} s", flush=True)
            release_loaded(dbs)
    finally:
        for db in dbs:
            rows[db.kind].extend(db.rows)
            db.close()
    forget_generated()
    table = [row for kind in databases for row in rows[kind]]
    notes = [f"{sizes.name} run: {_sizes_note(sizes)}"]
    for db in dbs:
        notes.extend(n for n in db.notes if n not in notes)
    print()
    print(text_table(table))
    json_path, md_path = write_results(table, sizes, notes, {db.kind: db.setup for db in dbs}, started, save=args.save)
    print(f"\nwritten to {json_path} and {md_path.name} in {time.perf_counter() - started:.0f} s")
    print(summary_line(table), flush=True)
    return 0


def _fail(row: Row, kind: str) -> Row:
    row.database = kind
    return row


def _sizes_note(sizes) -> str:  # type: ignore[no-untyped-def]
    depths = "/".join(f"{d:,}" for d in sizes.depths)
    return (
        f"{sizes.members:,} members in the check matrix, as-of depths {depths} events, command history "
        f"{sizes.command_history:,} events, export {sizes.export_entries:,} entries, bulk {sizes.bulk_ids:,} ids"
    )


if __name__ == "__main__":
    sys.exit(main())
