"""`accessledger replay lookup` (R-C4) and, beside it, the change feed's command: the reads integrating programs
make, for engineers at a terminal. Registered on `replay_app` by `api.cli.main`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli.output import stdout as out
from api.cli.replay import Json, Tenant, _table, replay_app
from api.cli.support import BadInput, ledger_for, note_lag, parse_instant, parse_resource, print_json, require_tenant
from replay.check import via_text

PAGE = 1000


def _every_page(ask: Any) -> dict[str, Any]:
    """All pages of a lookup put together (the first answer's other fields kept)."""
    answer = ask(cursor=None)
    items = list(answer["items"])
    while answer["next_cursor"] is not None:
        answer = ask(cursor=answer["next_cursor"])
        items += answer["items"]
    return {**answer, "items": items, "next_cursor": None}


def _vias(item: dict[str, Any]) -> str:
    return "; ".join(via_text(v) for v in item["via"])


@replay_app.command()
def lookup(
    tenant: Tenant,
    permission: Annotated[str, typer.Option(help="A permission of the catalog, e.g. leads.view_details.")],
    user: Annotated[str | None, typer.Option(help="Which resources this user may act on (with --type).")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="The resource type, e.g. lead (with --user).")] = None,
    resource: Annotated[str | None, typer.Option(help="Who may act on this resource, TYPE:ID.")] = None,
    at: Annotated[str | None, typer.Option(help="As of this instant (RFC 3339) or date; default: now.")] = None,
    json_output: Json = False,
) -> None:
    """Which resources a user may act on (--user --type), or who may act on one resource (--resource), as check
    decides, each with why."""
    with ledger_for("lookup") as runtime:
        if (user is None) != (type_ is None) or (user is None) == (resource is None):
            raise BadInput("give either --user and --type, or --resource TYPE:ID")
        require_tenant(runtime, tenant)
        instant = parse_instant(at, "--at")
        target = parse_resource(resource)
        queries, now = runtime.queries, runtime.now()
        if target is None:
            answer = _every_page(
                lambda cursor: queries.lookup_resources(
                    tenant, user, permission, type_, as_of=instant, cursor=cursor, limit=PAGE, now=now
                )
            )
        else:
            answer = _every_page(
                lambda cursor: queries.lookup_subjects(
                    tenant, permission, *target, as_of=instant, cursor=cursor, limit=PAGE, now=now
                )
            )
        if json_output:
            print_json(answer)
        elif target is None:
            out.print(
                f"{user} may {permission} on {len(answer['items'])} known {type_} resource(s)"
                f"{' (and every other: scope all)' if answer['all'] else ''}, as of {answer['as_of'] or 'now'}",
                markup=False,
            )
            table = _table("resource", "scope", "via")
            for item in answer["items"]:
                table.add_row(f"{item['resource']['type']}:{item['resource']['id']}", item["scope"], _vias(item))
            out.print(table)
        else:
            out.print(
                f"{len(answer['items'])} member(s) may {permission} on {resource}, as of {answer['as_of'] or 'now'}",
                markup=False,
            )
            table = _table("user", "role", "scope", "via")
            for item in answer["items"]:
                table.add_row(item["user_id"], item["role"], item["scope"], _vias(item))
            out.print(table)
        note_lag(runtime)


def change_line(item: dict[str, Any]) -> str:
    """One entry as a line: where, when, why, who, what, and the effect."""
    resource = item["resource"]
    where = f" {resource['type']}:{resource['id']}" if resource else ""
    at = f"{item['position']}:{item['index']}"
    return (
        f"{at:<10} {item['occurred_at']}  {item['event_type']:<20} {item['user_id']:<16} "
        f"{item['effect']:<6} {item['permission']} @{item['scope']}{where}"
    )


@replay_app.command()
def changes(
    tenant: Tenant,
    after: Annotated[int, typer.Option(min=0, help="Only entries after this position.")] = 0,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new entries until interrupted.")] = False,
    json_output: Json = False,
) -> None:
    """The change feed: every gain or loss of effective access, in order, with the event that caused it (R-C5)."""
    import json
    import sys

    from projections.follow import Follower

    with ledger_for("changes") as runtime:
        require_tenant(runtime, tenant)
        queries = runtime.queries
        follower = None
        if follow:
            # Woken by the projector's NOTIFY on PostgreSQL (the follower's poll on SQLite), not a query per wait.
            follower = Follower(runtime.store, runtime.watch, runtime.runner.names).start()
        try:
            collected: list[dict[str, Any]] = []
            while True:
                seen = runtime.watch.position
                page = queries.changes(tenant, after=after, limit=PAGE)
                for item in page["items"]:
                    if follow and json_output:
                        sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
                    elif json_output:
                        collected.append(item)
                    else:
                        out.print(change_line(item), markup=False, soft_wrap=True)
                if follow:
                    sys.stdout.flush()
                after = page["next_after"]
                if page["items"]:
                    continue
                if not follow:
                    break
                runtime.watch.wait_blocking(seen + 1, 5.0)
            if json_output:
                print_json(collected)
            else:
                note_lag(runtime)
        except KeyboardInterrupt:
            pass
        finally:
            if follower is not None:
                follower.close()
