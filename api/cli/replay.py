"""`accessledger replay …`: rebuild the read models, and look at a tenant's past (R-R1, R-R2), for engineers."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from api.cli.output import stdout as out
from api.cli.support import (
    BadInput,
    instant_text,
    ledger_for,
    note_lag,
    parse_instant,
    parse_resource,
    print_json,
    require_tenant,
    require_user,
    stderr,
)
from projections.safe_output import terminal_json, terminal_safe, terminal_text

replay_app = typer.Typer(
    name="replay",
    help="Rebuild the read models and replay a tenant's history: state, timeline, explained checks, diffs.",
    no_args_is_help=True,
)

Tenant = Annotated[str, typer.Option("--tenant", help="The tenant id.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]


class _PlainTable(Table):
    """Cells are data, never markup: `[erased]` (R-L6) or a name in brackets is printed as written."""

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        super().add_row(*(Text(c) if isinstance(c, str) else c for c in cells), **kwargs)


def _table(*columns: str) -> Table:
    """A table whose cells fold instead of cutting: ids, roles and permissions are never truncated."""
    table = _PlainTable(show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


# ----------------------------------------------------------------------------------------------------- rebuild


class EventsPerSecond(ProgressColumn):
    """The rate the progress bar moves at, in events per second."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- events/s" if speed is None else f"{speed:,.0f} events/s")


@replay_app.command()
def rebuild(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's rows.")] = None,
    projection: Annotated[str | None, typer.Option(help="Only this projection (directory, history, audit).")] = None,
    json_output: Json = False,
) -> None:
    """Rebuild projections from the events, with progress; the serving tables stay readable until the swap."""
    from replay.rebuild import projection_names
    from replay.rebuild import rebuild as run_rebuild

    with ledger_for("rebuild") as runtime:
        if projection is not None and projection not in projection_names():
            raise BadInput(f"unknown projection {projection!r} (one of: {', '.join(projection_names())})")
        if tenant is not None:
            require_tenant(runtime, tenant)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            EventsPerSecond(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=stderr, transient=False) as progress:
            task = progress.add_task("rebuilding", total=1)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=max(total, done, 1))

            result = run_rebuild(runtime.ledger, runtime.store, tenant=tenant, projection=projection, progress=advance)
        if json_output:
            print_json(result)
        elif result["ok"]:
            names = ", ".join(result["projections"])
            where = f" of tenant {tenant}" if tenant else ""
            out.print(
                f"rebuilt {names}{where}: {result['events']:,} events in {result['seconds']:.2f} s "
                f"({result['events_per_second']:,} events/s)",
                markup=False,
            )
        else:
            m = result["first_mismatch"]
            out.print(
                f"rebuild stopped, the serving tables were kept: the rebuilt audit trail differs from the serving one "
                f"at tenant {m.get('tenant_id')}, sequence {m['sequence']} (position {m['position']}): {m['problem']}",
                markup=False,
            )
        if not result["ok"]:
            raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------------- state


@replay_app.command()
def state(
    tenant: Tenant,
    at: Annotated[str | None, typer.Option(help="An instant (RFC 3339) or a date; default: now.")] = None,
    position: Annotated[int | None, typer.Option(help="A global position instead of an instant.", min=1)] = None,
    json_output: Json = False,
) -> None:
    """The tenant as it was: members, roles, seats, add-ons, grants, assignments."""
    from replay.state import state as tenant_state

    with ledger_for("state") as runtime:
        if at is not None and position is not None:
            raise BadInput("give --at or --position, not both")
        require_tenant(runtime, tenant)
        now = runtime.now()
        instant = parse_instant(at, "--at")
        if instant is not None and instant > now:
            raise BadInput(f"--at {at} is in the future (now is {instant_text(now)})")
        answer = tenant_state(
            runtime.ledger, runtime.store, tenant, at=instant or (None if position else now), position=position
        )
        note_lag(runtime)
        if json_output:
            print_json(answer)
        else:
            _print_state(answer)


def _print_state(s: dict[str, Any]) -> None:
    s = terminal_safe(s)  # R-X7: names and labels come from the database
    moment = f"as of {s['as_of']}" if s["as_of"] else f"at position {s['position']}"
    out.print(f"[bold]{s['tenant_id']}[/bold] ({s['name']}), {s['status']}, {moment}, sequence {s['sequence']}")
    plan, seats = s["plan"], s["seats"]
    out.print(
        f"plan {plan['name']}: {plan['included_seats']} included seats, {plan['billing_interval']}, "
        f"{plan['currency']}; term {s['term_start']} to {s['term_end']}; min_admins {s['min_admins']}"
        + (f"; closes at {s['cancellation_effective_at']}" if s["cancellation_effective_at"] else ""),
        markup=False,
    )
    out.print(
        f"seats: capacity {seats['capacity']}, used {seats['used']} ({seats['members']} members, "
        f"{seats['pending_invitations']} pending invitations), free {seats['free']}",
        markup=False,
    )
    members = _table("seat", "user_id", "name", "email", "role", "joined_at", "assigned")
    for m in s["members"]:
        count = len(s["assignments"].get(m["user_id"], []))
        members.add_row(
            str(m["seat_order"]), m["user_id"], m["name"], m["email"], m["role"], m["joined_at"], str(count)
        )
    out.print(members)
    sections = [
        ("invitations", ("invitation_id", "email", "role", "invited_by", "expires_at")),
        ("addons", ("addon_id", "kind", "seats", "monthly_price", "currency", "status", "ends_at")),
        ("grants", ("grant_id", "user_id", "permission", "role", "scope", "resource", "expires_at", "granted_by")),
        ("roles", ("role_id", "name", "includes", "permissions")),
    ]
    for key, columns in sections:
        if not s[key]:
            continue
        out.print(f"\n[bold]{key}[/bold]")
        table = _table(*columns)
        for item in s[key]:
            table.add_row(*("-" if item.get(c) is None else str(item.get(c)) for c in columns))
        out.print(table)
    if s["assignments"]:
        out.print("\n[bold]assignments[/bold]")
        table = _table("user_id", "count", "resources")
        for user_id, keys in s["assignments"].items():
            table.add_row(user_id, str(len(keys)), ", ".join(keys))
        out.print(table)


# ----------------------------------------------------------------------------------------------------- timeline


@replay_app.command()
def timeline(
    tenant: Tenant,
    user: Annotated[str | None, typer.Option(help="Only events this user caused or that concern them.")] = None,
    since: Annotated[str | None, typer.Option(help="From this instant on (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this instant (exclusive).")] = None,
    json_output: Json = False,
) -> None:
    """The history, one readable line an event: occurred_at, sequence, event type, actor, summary."""
    from replay.timeline import entries, line, summary

    with ledger_for("timeline") as runtime:
        require_tenant(runtime, tenant)
        start, end = parse_instant(since, "--since"), parse_instant(until, "--until")
        if start is not None and end is not None and start > end:
            raise BadInput("--since must not be after --until")
        if user is not None:
            require_user(runtime, tenant, user, allow_system=True)
        found = entries(runtime.queries, tenant, user=user, since=start, until=end)
        if json_output:
            _stream_json_array({**entry, "summary": summary(entry)} for entry in found)
        elif sys.stdout.isatty():
            with out.pager(styles=False):
                for entry in found:
                    out.print(terminal_text(line(entry)), markup=False)
        else:
            for entry in found:
                sys.stdout.write(terminal_text(line(entry)) + "\n")
        note_lag(runtime)


def _stream_json_array(items: Any) -> None:
    """A JSON array written item by item: constant memory however long the history."""
    import json

    sys.stdout.write("[")
    for index, item in enumerate(items):
        sys.stdout.write(("," if index else "") + "\n  " + terminal_json(json.dumps(item, ensure_ascii=False)))
    sys.stdout.write("\n]\n")


# ----------------------------------------------------------------------------------------------------- check


@replay_app.command()
def check(
    tenant: Tenant,
    user: Annotated[str, typer.Option(help="The user id asked about.", show_default=False)],
    permission: Annotated[str, typer.Option(help="A permission of the catalog, e.g. leads.view_details.")],
    resource: Annotated[str | None, typer.Option(help="TYPE:ID, e.g. lead:L-17.")] = None,
    at: Annotated[str | None, typer.Option(help="As of this instant (RFC 3339) or date; default: now.")] = None,
    fail_on_deny: Annotated[bool, typer.Option(help="Exit with status 1 when the answer is denied.")] = False,
    json_output: Json = False,
) -> None:
    """An explained decision: allowed or denied, the reason, each source (via) and the events behind it."""
    from replay.check import decision_lines

    with ledger_for("check") as runtime:
        require_tenant(runtime, tenant)
        require_user(runtime, tenant, user)
        target = parse_resource(resource)
        instant = parse_instant(at, "--at")
        answer = runtime.queries.explain(tenant, user, permission, target, as_of=instant, now=runtime.now())
        if json_output:
            print_json(answer)
        else:
            for text in decision_lines(answer, user, permission, target):
                out.print(terminal_text(text), markup=False)
        note_lag(runtime)
    if fail_on_deny and not answer["allowed"]:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------------- diff


@replay_app.command()
def diff(
    tenant: Tenant,
    start: Annotated[str, typer.Option("--from", help="The first instant (RFC 3339) or date.", show_default=False)],
    end: Annotated[str, typer.Option("--to", help="The second instant (RFC 3339) or date.", show_default=False)],
    json_output: Json = False,
) -> None:
    """Who gained or lost which permission (and scope, and resource) between two instants, by which event."""
    from replay.diff import change_row, totals

    with ledger_for("diff") as runtime:
        require_tenant(runtime, tenant)
        first, second = parse_instant(start, "--from"), parse_instant(end, "--to")
        if first > second:
            raise BadInput(f"--from {start} is after --to {end}")
        changes = runtime.queries.diff(tenant, first, second, now=runtime.now())
        if json_output:
            print_json(changes)
        else:
            table = _table("at", "change", "user_id", "permission", "scope", "resource", "event @position")
            for change in changes:
                table.add_row(*terminal_safe(change_row(change)))
            if changes:
                out.print(table)
            count = totals(changes)
            out.print(
                f"{count['gained']} gained, {count['lost']} lost, {count['members']} members, "
                f"between {instant_text(first)} and {instant_text(second)}",
                markup=False,
            )
        note_lag(runtime)


__all__ = ["replay_app"]
