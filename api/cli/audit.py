"""`accessledger audit …`: verify the hash chains (R-L2) and export the trail (R-L4), for compliance."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.cli.output import stdout as out
from api.cli.support import BadInput, fail, ledger_for, note_lag, parse_instant, print_json, require_tenant
from projections.safe_output import terminal_json, terminal_text

audit_app = typer.Typer(
    name="audit",
    help="Verify the audit trail's hash chains and export it.",
    no_args_is_help=True,
)


@audit_app.command()
def verify(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: every tenant).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")] = False,
) -> None:
    """Recompute every chain and compare each entry with the event store; exit 1 at the first mismatch."""
    from replay.verify import verify as run_verify

    with ledger_for("verify") as runtime:
        if tenant is not None:
            require_tenant(runtime, tenant)
        result = run_verify(runtime.queries, tenant)
        note_lag(runtime)
    if json_output:
        print_json(result)
    elif result["ok"]:
        scope = f"tenant {tenant}" if tenant else f"{result['tenants']} tenant{'s' if result['tenants'] != 1 else ''}"
        out.print(f"ok: {result['entries']:,} audit entries of {scope} verified against the event store", markup=False)
    else:
        for m in result["mismatches"]:
            out.print(
                f"BROKEN: tenant {m['tenant_id']}, entry sequence {m['sequence']} (position {m['position']}): "
                f"{m['problem']}",
                markup=False,
            )
        out.print(f"verification failed: {len(result['mismatches'])} tenant chain(s) broken", markup=False)
    if not result["ok"]:
        raise typer.Exit(1)


@audit_app.command()
def export(
    tenant: Annotated[str, typer.Option(help="The tenant id.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="From this instant on (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this instant (exclusive).")] = None,
    actor: Annotated[str | None, typer.Option(help="Only events caused by this actor.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only events concerning this user.")] = None,
    types: Annotated[list[str] | None, typer.Option("--type", help="Event type (repeatable).")] = None,
) -> None:
    """Every matching audit entry to standard output, as JSON Lines or CSV, streamed in constant memory."""
    if fmt not in ("jsonl", "csv"):
        fail(f"--format {fmt!r}: use jsonl or csv")
    with ledger_for("export") as runtime:
        require_tenant(runtime, tenant)
        start, end = parse_instant(since, "--since"), parse_instant(until, "--until")
        if start is not None and end is not None and start > end:
            raise BadInput("--since must not be after --until")
        chunks = runtime.queries.audit_export(
            tenant, fmt, since=start, until=end, actor=actor, subject=subject, types=types or None
        )
        write = sys.stdout.write
        on_terminal = sys.stdout.isatty()  # R-X7: escaped on a terminal; exact when piped to a file
        for chunk in chunks:
            write(
                terminal_json(chunk)
                if on_terminal and fmt == "jsonl"
                else terminal_text(chunk)
                if on_terminal
                else chunk
            )
        sys.stdout.flush()
        note_lag(runtime)
