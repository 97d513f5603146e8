"""`accessledger demo`: fill the configured database with a year of realistic history, then say what to try."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.output import stdout as out
from api.cli.support import BadInput, fail, ledger_for, parse_instant, shown_url, stderr


def demo(
    scale: Annotated[float, typer.Option(hidden=True, min=0.001, help="Multiplies the lead traffic.")] = 1.0,
    until: Annotated[
        str | None,
        typer.Option(
            help="The day the demo's year ends (a date, not after today); default: today.", show_default=False
        ),
    ] = None,
) -> None:
    """Fill the configured database with a realistic history (a tenant living through seed 000's story)."""
    from api.cli.demo.story import SONNE, first_instant, generate
    from domain.clock import ManualClock

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # A fixed end makes the history the same on every run (the docs show its real output).
    end = _end_day(until, today)
    started = time.perf_counter()
    clock = ManualClock(first_instant(end))
    with ledger_for("demo", need_events=False, create_tables=True, clock=clock) as runtime:
        head = runtime.ledger.head_position()
        if head:
            raise BadInput(
                f"the database already holds {head:,} events; the demo needs an empty one "
                "(point ACCESSLEDGER_DATABASE_URL at a new file or database)"
            )
        columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=stderr) as progress:
            days = progress.add_task("simulating a year", total=365)
            story = generate(
                runtime.ledger,
                clock,
                end,
                scale,
                progress=lambda done, total: progress.update(days, completed=done, total=total),
            )
            head = runtime.ledger.head_position()
            task = progress.add_task("projecting events", total=head)
            runner = runtime.runner
            while (reached := runner.catch_up(until=min(runner.position() + 2000, head))) < head:
                progress.update(task, completed=reached)
            progress.update(task, completed=head)
        url = runtime.settings.database_url
    seconds = time.perf_counter() - started
    check_at = story["check_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    removal = datetime.fromisoformat(story["removal_day"]) if story["removal_day"] else end - timedelta(days=30)
    before, after = (removal - timedelta(days=1)).date(), (removal + timedelta(days=1)).date()
    lines = [
        f"Filled {shown_url(url)} with {head:,} events of {len(story['tenants'])} tenants "
        f"({', '.join(story['tenants'])}): a year from {story['first_day']} to {end.date()}, in {seconds:.1f} s.",
        "",
        f"{SONNE}: Maklerbüro Sonne, 5 included seats and one user-seats add-on, 10 brokers, hundreds of leads.",
        f"The add-on was cancelled; at the term end ({removal.date()}) the pending invitation was revoked and the",
        "five brokers created last were removed, their leads unassigned and handed to the others.",
        "",
        "Try next:",
        f"  accessledger replay check --tenant {SONNE} --user marie.wagner --permission leads.view_details "
        f"--resource lead:L-17 --at {check_at}",
        f"  accessledger replay check --tenant {SONNE} --user noah.wolf --permission leads.view_details "
        f"--resource lead:L-17 --at {check_at}",
        f"  accessledger replay timeline --tenant {SONNE} --user noah.wolf",
        f"  accessledger replay diff --tenant {SONNE} --from {before} --to {after}",
        f"  accessledger replay state --tenant {SONNE} --at {before}",
        "  accessledger audit verify",
        f"  accessledger audit export --tenant {SONNE} --format csv --type MemberRemoved",
        "  accessledger serve      (then open http://127.0.0.1:8000/docs; the operator token it prints reads "
        "every tenant)",
    ]
    for text in lines:
        out.print(text, markup=False)


def _end_day(until: str | None, today: datetime) -> datetime:
    """Midnight UTC of `--until` (a date), or of today; one line and exit 2 for anything else."""
    if until is None:
        return today
    try:
        end = parse_instant(until, "--until")
    except BadInput as exc:
        fail(str(exc))
    if end is None or end != end.replace(hour=0, minute=0, second=0, microsecond=0) or end > today:
        fail(f"--until {until!r} is not a date up to today ({today.date()}), e.g. 2026-11-23")
    return end
