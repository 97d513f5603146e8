"""Timing, percentiles, sizes, the result rows and the table every benchmark run prints and writes.

Every figure is measured beside a baseline in the same run (the machines are shared and noisy), so a row carries
both numbers, their ratio and the goal the ratio or the figure must meet.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # tracked: written only by `--save`
SCRATCH_DIR = Path(tempfile.gettempdir()) / "accessledger-bench"


def results_dir(save: bool = False) -> Path:
    """`BENCH_RESULTS_DIR` if set; else bench/results when asked to `save`, else a scratch directory outside the
    tree, so a run never dirties the checkout."""
    chosen = os.environ.get("BENCH_RESULTS_DIR")
    return Path(chosen) if chosen else (RESULTS_DIR if save else SCRATCH_DIR)


# ----------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    """How big each workload is: `full` (the goals' sizes), `quick` (< 3 min) or `tiny` (the harness test)."""

    name: str
    members: int  # members of the role-matrix tenant (SPEC.md's roles), owner included
    leads_per_broker: int
    check_samples: int  # in-process checks timed per engine
    http_seconds: float  # per load run
    http_rounds: int  # load runs per endpoint (alternating), the best kept
    depths: tuple[int, int, int]  # events of history of the as-of tenants
    asof_samples: int
    command_history: int  # events of history of the "deep" tenant of the command figure
    command_pairs: int  # add+remove pairs timed per tenant
    export_entries: int  # audit entries exported (the deepest history tenant gives them)
    bulk_ids: int
    bulk_rounds: int

    @property
    def quick(self) -> bool:
        return self.name != "full"


FULL = Sizes("full", 1000, 5, 100_000, 8.0, 2, (1_000, 100_000, 1_000_000), 20_000, 100_000, 300, 1_000_000, 10_000, 3)
QUICK = Sizes("quick", 1000, 5, 20_000, 4.0, 1, (1_000, 10_000, 100_000), 5_000, 100_000, 150, 100_000, 10_000, 2)
TINY = Sizes("tiny", 60, 3, 2_000, 1.0, 1, (150, 300, 600), 300, 600, 5, 600, 200, 1)


def sizes_for(quick: bool) -> Sizes:
    """`BENCH_TINY=1` shrinks everything (for the harness test); otherwise quick or full."""
    if os.environ.get("BENCH_TINY", "").strip() in ("1", "true", "yes"):
        return TINY
    return QUICK if quick else FULL


def count_label(n: int) -> str:
    """1000 -> "1k", 1_000_000 -> "1M"."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# ----------------------------------------------------------------- measuring


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Latencies:
    """Per-call latencies in seconds, summarised."""

    samples: int
    mean: float
    p50: float
    p99: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latencies:
        return cls(len(seconds), sum(seconds) / len(seconds), percentile(seconds, 50), percentile(seconds, 99))


def time_calls(calls: Iterable[Callable[[], Any]]) -> Latencies:
    """Time each call separately (perf_counter_ns around it)."""
    clock = time.perf_counter_ns
    spent: list[float] = []
    for call in calls:
        start = clock()
        call()
        spent.append((clock() - start) / 1e9)
    return Latencies.of(spent)


def time_each(fn: Callable[..., Any], args: Sequence[tuple[Any, ...]], warmup: int = 0) -> Latencies:
    """Time `fn(*a)` for each `a` in `args` (the first `warmup` untimed)."""
    for a in args[:warmup]:
        fn(*a)
    clock = time.perf_counter_ns
    spent: list[float] = []
    append = spent.append
    for a in args:
        start = clock()
        fn(*a)
        append((clock() - start) / 1e9)
    return Latencies.of(spent)


def time_interleaved(fn: Callable[..., Any], *series: Sequence[tuple[Any, ...]]) -> list[Latencies]:
    """Time `fn(*a)` for the i-th call of every series in turn, for each i, so a noisy neighbour (or the machine
    slowing down) hurts every series alike."""
    clock = time.perf_counter_ns
    spent: list[list[float]] = [[] for _ in series]
    for calls in zip(*series, strict=True):
        for out, args in zip(spent, calls, strict=True):
            start = clock()
            fn(*args)
            out.append((clock() - start) / 1e9)
    return [Latencies.of(values) for values in spent]


def time_blocks(
    fns: Sequence[Callable[..., Any]], args: Sequence[tuple[Any, ...]], blocks: int = 10
) -> list[Latencies]:
    """Time each of `fns` on the same calls, a block of calls at a time and the functions in turn: each runs warm
    on its own stream (as a server would), while the machine's slower moments fall on all of them alike."""
    clock = time.perf_counter_ns
    spent: list[list[float]] = [[] for _ in fns]
    size = max(1, -(-len(args) // blocks))
    for start in range(0, len(args), size):
        block = args[start : start + size]
        for fn, out in zip(fns, spent, strict=True):
            append = out.append
            for a in block:
                t0 = clock()
                fn(*a)
                append((clock() - t0) / 1e9)
    return [Latencies.of(values) for values in spent]


class Stopwatch:
    """`with Stopwatch() as sw: ...; sw.seconds`."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start


def rss_bytes() -> int:
    """This process's resident set size now, from /proc/self/status (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# ----------------------------------------------------------------- rows and the table


@dataclass
class Row:
    """One figure on one database: ours beside the baseline, their ratio, and whether the goal is met.

    `met` is None when the figure could not be measured (a feature not built yet): it still counts as a goal.
    """

    figure: str
    database: str
    ours: float | None
    baseline: float | None
    unit: str
    baseline_label: str
    goal: str
    met: bool | None
    ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self) -> str:
        if self.met is None:
            return "not built" if "not built" in self.note else "n/a"
        return "yes" if self.met else "NO"


def ratio_of(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def fmt_value(value: float | None, unit: str) -> str:
    """A number in its unit, human-sized (µs/ms/s, k/M)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if value >= 100_000:
        return f"{value / 1000:,.0f}k {unit}"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


HEADERS = ("figure", "db", "ours", "baseline", "ratio", "goal", "met?")


def table_cells(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    out = []
    for row in rows:
        baseline = fmt_value(row.baseline, row.unit)
        if row.baseline_label and row.baseline is not None:
            baseline = f"{baseline} ({row.baseline_label})"
        elif row.baseline_label:
            baseline = row.baseline_label
        out.append(
            (
                row.figure,
                row.database,
                fmt_value(row.ours, row.unit),
                baseline,
                fmt_ratio(row.ratio),
                row.goal,
                row.status(),
            )
        )
    return out


def text_table(rows: Sequence[Row]) -> str:
    """A plain-text table with aligned columns."""
    cells = [HEADERS, *table_cells(rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADERS))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for cells in table_cells(rows):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def summary_line(rows: Sequence[Row]) -> str:
    """The last line of every run."""
    met = sum(1 for row in rows if row.met)
    return f"bench: {met} of {len(rows)} goals met"


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def write_results(
    rows: Sequence[Row],
    sizes: Sizes,
    notes: Sequence[str],
    setup: dict[str, Any],
    started: float,
    save: bool = False,
) -> tuple[Path, Path]:
    """latest.json and latest.md in `results_dir(save)`."""
    out = results_dir(save)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "mode": sizes.name,
        "sizes": asdict(sizes),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started, 1),
        "environment": environment(),
        "rows": [asdict(row) | {"status": row.status()} for row in rows],
        "setup": setup,
        "notes": list(notes),
        "summary": summary_line(rows),
    }
    json_path = out / "latest.json"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    md = [
        f"# Benchmark results ({sizes.name} run, {payload['finished_at']})",
        "",
        f"{payload['environment']['cpus']} CPUs, Python {payload['environment']['python']}; "
        f"{payload['seconds']} s in all. Reproduce: `python -m bench{' --quick' if sizes.name == 'quick' else ''}`.",
        "",
        markdown_table(rows),
        "",
    ]
    if notes:
        md += ["Notes:", "", *[f"- {note}" for note in notes], ""]
    row_notes = [f"- {row.figure} ({row.database}): {row.note}" for row in rows if row.note]
    if row_notes:
        md += ["Row notes:", "", *row_notes, ""]
    md.append(summary_line(rows))
    md_path = out / "latest.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return json_path, md_path
