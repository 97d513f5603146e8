"""The `accessledger` command line: serve the API, apply due changes, run the projections."""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from api.cli.help import install_plain_help
from api.cli.startup import configured
from api.settings import redacted_url

install_plain_help()
app = typer.Typer(
    name="accessledger",
    help="Event-sourced access management: serve the API, apply due changes, run projections.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()
stderr_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that goes away while starting is one line and exit status 2, not a traceback."""
    from api.cli.support import fail
    from api.http.errors import is_database_down

    try:
        yield
    except typer.Exit:
        raise
    except Exception as error:
        if not is_database_down(error):
            raise
        fail(f"the database is unreachable: {redacted_url(' '.join(str(error).split()))}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="API processes (PostgreSQL only): N API processes and one projector, sharing the operator "
            "token and secret key.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (uvicorn) on the configured database, projections in-process (or, with --workers N on
    PostgreSQL, in one projector process beside N API processes)."""
    import uvicorn

    from api.cli.workers import serve_workers
    from api.http.app import create_app

    settings = configured(reach_replica=True)
    generated = None
    if not settings.operator_token:
        generated = secrets.token_urlsafe(32)
        settings = settings.model_copy(update={"operator_token": generated})
    if workers > 1 and not settings.database_url.startswith("postgres"):
        console.print(
            "[yellow]--workers is for PostgreSQL:[/yellow] a SQLite file has one writer at a time, so more API "
            "processes would only queue on its lock; serving with one worker."
        )
        workers = 1
    shown_host = "localhost" if host in ("0.0.0.0", "::") else host
    console.print(f"accessledger on {settings.shown_database_url} (clock: {settings.clock})", markup=False)
    if workers > 1:
        with database_errors():
            from api.migrate import ensure_schema

            ensure_schema(settings.database_url)
        console.print(f"API docs: http://{shown_host}:{port}/docs")
        if generated:
            console.print("No ACCESSLEDGER_OPERATOR_TOKEN was set; this operator token is shown once:")
            print(generated, flush=True)
        serve_workers(settings, host, port, workers)
        return
    with database_errors():
        application = create_app(settings)
    console.print(f"API docs: http://{shown_host}:{port}/docs")
    if generated:
        console.print("No ACCESSLEDGER_OPERATOR_TOKEN was set; this operator token is shown once:")
        print(generated, flush=True)
        if not settings.in_process_projections:
            stderr_console.print(
                "accessledger: warning: this process generated its own operator token, but its projections run in "
                "another process, so this is one of several processes: set the same ACCESSLEDGER_OPERATOR_TOKEN on "
                "every process, or the operator token works on this one only",
                markup=False,
            )
    uvicorn.run(application, host=host, port=port, log_level="info")


@app.command()
def tick() -> None:
    """Apply every change that is due now, for every tenant (for cron)."""
    from api.runtime import open_runtime

    with database_errors():
        runtime = open_runtime(configured())
        try:
            runtime.runner.catch_up()
            changed = runtime.sweep()
        finally:
            runtime.close()
    console.print(f"{changed} tenant{'s' if changed != 1 else ''} changed")


@app.command()
def migrate() -> None:
    """Create or upgrade every table, index and trigger, idempotently, under an advisory lock (R-Z4)."""
    from api.migrate import migrate as run_migration

    settings = configured()
    with database_errors():
        result = run_migration(settings.database_url)
    state = "migrated" if result.applied else "already current"
    shown = settings.shown_database_url
    console.print(f"schema {result.fingerprint} on {shown}: {state} ({result.seconds:.2f} s)", markup=False)


@app.command()
def project() -> None:
    """Run the projections as their own process until Ctrl-C (deployments with several API processes); while the
    database is away it waits and retries (R-Z3)."""
    from api.http.errors import is_database_down
    from api.runtime import open_runtime, project_forever

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    settings = configured()
    runtime = None
    while runtime is None:
        try:
            runtime = open_runtime(settings)
        except Exception as error:
            if not is_database_down(error):
                raise
            console.print(f"[yellow]waiting for the database:[/yellow] {str(error).splitlines()[0]}")
            if stop.wait(2.0):
                raise typer.Exit(1) from None
    reached = {"position": -1}

    def progress(position: int) -> None:
        if position != reached["position"]:
            reached["position"] = position
            console.print(f"projected up to position {position}")

    console.print(f"projecting {runtime.settings.shown_database_url}; Ctrl-C stops", markup=False)
    try:
        project_forever(runtime, stop, on_progress=progress)
    finally:
        runtime.close()
    console.print("stopped")


# The sub-apps register after the commands above; `feeds` adds `replay lookup` and `replay changes` to replay_app.
from api.cli import compliance, feeds  # noqa: E402, F401
from api.cli.audit import audit_app  # noqa: E402
from api.cli.demo.command import demo  # noqa: E402
from api.cli.replay import replay_app  # noqa: E402

app.command("demo")(demo)
app.command("assert")(compliance.check)
app.command("erase")(compliance.erase)
replay_app.command("what-if")(compliance.what_if)
app.add_typer(replay_app, name="replay")
app.add_typer(audit_app, name="audit")


def main() -> None:
    """Entry point of the `accessledger` console script."""
    app()


if __name__ == "__main__":
    main()
