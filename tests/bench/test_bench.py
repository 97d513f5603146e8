"""Issue 8 (benchmarks, no SPEC rule): `python -m bench --quick` runs end to end with tiny sizes (`BENCH_TINY=1`),
prints the table and ends with `bench: K of M goals met`, and writes the same rows as JSON and Markdown.

Timings are never asserted: the machine is shared. What is asserted is the harness itself, so it cannot rot.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATABASES, require_postgres

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"^bench: (\d+) of (\d+) goals met$")


@pytest.mark.timeout(480)  # a smoke test of the tool, not a timing: CI may run it beside other workers
@pytest.mark.parametrize("kind", DATABASES)
def test_bench_quick_tiny_prints_the_table_and_the_summary_line(kind: str, tmp_path: Path) -> None:
    """Every figure of issue 8 yields its rows on this database; the last line counts them."""
    if kind == "postgresql":
        require_postgres()
    env = {**os.environ, "BENCH_TINY": "1", "BENCH_RESULTS_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--db", kind],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=450,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.rstrip("\n").splitlines()
    summary = SUMMARY.match(lines[-1])
    assert summary, lines[-5:]
    met, total = int(summary.group(1)), int(summary.group(2))

    result = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    rows = result["rows"]
    assert result["mode"] == "tiny"
    assert len(rows) == total >= 17
    assert met == sum(1 for row in rows if row["met"])
    assert {row["database"] for row in rows} == {kind}
    failed = [row for row in rows if row["note"].startswith("failed")]
    assert not failed, failed
    for row in rows:
        assert row["goal"]
        assert row["status"] in ("yes", "NO", "not built"), row
        if row["status"] != "not built":
            assert row["ours"] is not None and row["baseline"] is not None, row
            assert row["ratio"] is None or row["ratio"] > 0, row

    header = next(n for n, line in enumerate(lines) if line.startswith("figure"))
    assert lines[header].split() == ["figure", "db", "ours", "baseline", "ratio", "goal", "met?"]
    table = lines[header + 2 : header + 2 + total]
    assert [line.split("  ")[0] for line in table] == [row["figure"] for row in rows]

    markdown = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert "| figure | db | ours | baseline | ratio | goal | met? |" in markdown
    assert markdown.rstrip().splitlines()[-1] == lines[-1]
    for row in rows:
        assert f"| {row['figure']} | {kind} |" in markdown


def test_bench_only_one_figure_counts_only_its_goals(tmp_path: Path) -> None:
    """`--only` narrows the run; a figure not built yet still counts as a goal, never as met."""
    env = {**os.environ, "BENCH_TINY": "1", "BENCH_RESULTS_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "hierarchy", "--db", "sqlite"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))["rows"]
    assert len(rows) == 2
    summary = SUMMARY.match(run.stdout.rstrip("\n").splitlines()[-1])
    assert summary and int(summary.group(2)) == 2
    assert int(summary.group(1)) == sum(1 for row in rows if row["met"])
