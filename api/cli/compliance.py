"""`accessledger replay what-if`, `accessledger assert` and `accessledger erase` (R-R3, R-R4, R-L6)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.documents import read_document, validated
from api.cli.help import PLAIN_TEXT
from api.cli.output import stdout as out
from api.cli.support import (
    BadInput,
    instant_text,
    ledger_for,
    note_lag,
    parse_instant,
    print_json,
    require_tenant,
)

TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant id.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]


def _catalog(path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """`{roles: [Role], removed_roles: [role_id]}` from a YAML or JSON file."""
    from api.http.schemas.compliance import CatalogIn

    body = validated(CatalogIn, read_document(path, "--roles"), "--roles", path)
    return [role.model_dump() for role in body.roles], list(body.removed_roles)


def what_if(
    tenant: TenantOption,
    roles: Annotated[str, typer.Option("--roles", help="YAML or JSON: {roles: [...], removed_roles: [...]}.")],
    start: Annotated[str, typer.Option("--from", help="The first instant (RFC 3339) or date.", show_default=False)],
    end: Annotated[str, typer.Option("--to", help="The end instant (exclusive), RFC 3339 or date.")],
    json_output: Json = False,
) -> None:
    """Replay the history under a changed catalog of custom roles: who would have gained or lost what, when."""
    from replay.what_if import run_what_if

    with ledger_for("what-if") as runtime:
        require_tenant(runtime, tenant)
        first, second = parse_instant(start, "--from"), parse_instant(end, "--to")
        if first >= second:
            raise BadInput(f"--from {start} is not before --to {end}")
        defined, removed = _catalog(roles)
        answer = run_what_if(
            runtime.ledger,
            runtime.store,
            tenant,
            roles=defined,
            removed_roles=removed,
            start=first,
            end=second,
            now=runtime.now(),
        )
        note_lag(runtime)
    if json_output:
        print_json(answer)
        return
    changes = answer["changes"]
    if changes:
        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for column in ("effect", "user_id", "permission", "scope", "resource", "from", "until"):
            table.add_column(column, overflow="fold")
        for c in changes:
            resource = f"{c['resource']['type']}:{c['resource']['id']}" if c["resource"] else "-"
            table.add_row(c["effect"], c["user_id"], c["permission"], c["scope"], resource, c["from"], c["until"])
        out.print(table)
    gained = sum(1 for c in changes if c["effect"] == "gained")
    members = len({c["user_id"] for c in changes})
    out.print(
        f"{gained} gained, {len(changes) - gained} lost, {members} member{'s' if members != 1 else ''}, "
        f"between {instant_text(first)} and {instant_text(second)} (recorded nothing)",
        markup=False,
    )


def check(
    tenant: TenantOption,
    file: Annotated[
        str,
        typer.Argument(
            help="YAML or JSON: {assertions: [...]}.", show_default=False, metavar="FILE", click_type=PLAIN_TEXT
        ),
    ],
    at: Annotated[str | None, typer.Option(help="Default instant of assertions without `at`; default: now.")] = None,
    roles: Annotated[str | None, typer.Option("--roles", help="Check under this changed catalog.")] = None,
    json_output: Json = False,
) -> None:
    """Check access assertions against the real history (or a changed catalog); exit 1 if any fails."""
    from api.http.schemas.compliance import AssertionsIn
    from domain.assertions import failure_line
    from replay.what_if import run_assertions

    with ledger_for("assert") as runtime:
        document = read_document(file, "FILE")
        body = validated(AssertionsIn, document, "FILE", file)
        require_tenant(runtime, tenant)
        if roles:
            defined, removed = _catalog(roles)
        else:
            defined, removed = [role.model_dump() for role in body.roles], list(body.removed_roles)
        answer = run_assertions(
            runtime.ledger,
            runtime.store,
            tenant,
            document["assertions"],  # as written, so failures repeat them exactly
            as_of=parse_instant(at, "--at") or body.as_of,
            now=runtime.now(),
            roles=defined,
            removed_roles=removed,
        )
        note_lag(runtime)
    if json_output:
        print_json(answer)
    else:
        for failure in answer["failed"]:
            out.print(failure_line(failure), markup=False)
        failed = len(answer["failed"])
        out.print(f"{answer['checked'] - failed} passed, {failed} failed", markup=False)
    if answer["failed"]:
        raise typer.Exit(1)


def erase(
    tenant: TenantOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (required; recorded with PersonErased).")],
    user: Annotated[str | None, typer.Option("--user", help="The user id of a former member.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Or the e-mail of a former member or invitee.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_output: Json = False,
) -> None:
    """Erase a former member's or invitee's personal data (R-L6) for a data-subject request, as the operator."""
    from domain.actors import Actor

    if (user is None) == (email is None):
        _bad("give exactly one of --user and --email")
    if not reason.strip():
        _bad("--reason must not be empty")
    who = f"user {user}" if user else f"e-mail {email}"
    if not yes and not typer.confirm(f"Erase the personal data of {who} in tenant {tenant}? This cannot be undone"):
        raise typer.Exit(1)
    with ledger_for("erase") as runtime:
        require_tenant(runtime, tenant)
        result = runtime.ledger.erase_person(
            tenant, Actor("operator", reason=reason.strip()), user_id=user, email=email
        )
        _forget_answers(runtime, result.values.pop("texts", set()))
        runtime.runner.catch_up(result.position)
    answer = {
        "erasure": {
            "erasure_id": result.values["erasure_id"],
            "erased_at": instant_text(result.values["erased_at"]),
            "fields": result.values["fields"],
        },
        "position": result.position,
    }
    if json_output:
        print_json(answer)
    else:
        out.print(
            f"erased {', '.join(answer['erasure']['fields'])} of {who} in tenant {tenant}: "
            f"{answer['erasure']['erasure_id']} at position {result.position}; they now read [erased]",
            markup=False,
        )


def _bad(message: str) -> None:
    from api.cli.support import fail

    fail(message)


def _forget_answers(runtime: Any, texts: set[str]) -> None:
    """Delete stored idempotent answers holding the erased person's data (the table exists once served)."""
    from api.http.idempotency import IdempotencyStore, fernet_for

    IdempotencyStore(runtime.store, fernet_for(runtime.settings.secret_key)).forget(texts)


__all__ = ["check", "erase", "what_if"]
