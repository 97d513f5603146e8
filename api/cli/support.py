"""What the `replay`, `audit` and `demo` commands share: the configured database, input parsing, JSON output, and
turning every foreseeable problem into one line on standard error with exit status 2 (never a traceback).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import click
import typer

from api.cli.output import BadInput, fail, stderr
from domain.errors import DomainError
from projections.safe_output import terminal_json

if TYPE_CHECKING:  # opening the database imports eventsourcing and the projections: only when a command runs
    from api.runtime import Runtime
    from domain.clock import Clock


def parse_instant(text: str | None, option: str) -> datetime | None:
    """An RFC 3339 instant with its zone (`2026-11-17T10:00:00Z`), or a date meaning 00:00 UTC that day."""
    if text is None:
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        instant = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{option} {text!r} is not a time: use RFC 3339 (2026-11-17T10:00:00Z) or a date") from None
    if instant.tzinfo is None:
        raise BadInput(f"{option} {text!r} has no time zone: add one, e.g. Z for UTC (2026-11-17T10:00:00Z)")
    return instant.astimezone(UTC)


def parse_resource(text: str | None) -> tuple[str, str] | None:
    """`TYPE:ID` (e.g. `lead:L-17`) as a (type, id) pair."""
    if text is None:
        return None
    kind, sep, ident = text.partition(":")
    if not sep or not kind or not ident:
        raise BadInput(f"--resource {text!r} is not TYPE:ID (e.g. lead:L-17)")
    return kind, ident


def instant_text(instant: datetime) -> str:
    """An instant as the API writes it (`2026-11-17T10:00:00Z`)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shown_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from api.settings import redacted_url

    return redacted_url(url)


def print_json(value: Any) -> None:
    """Pretty JSON on standard output, for scripts."""
    sys.stdout.write(terminal_json(json.dumps(value, ensure_ascii=False, indent=2, default=str)) + "\n")


def require_tenant(runtime: Runtime, tenant_id: str) -> None:
    """Bad input unless the tenant was opened (`not_found` becomes one line)."""
    runtime.queries.tenant(tenant_id, now=runtime.now())


def require_user(runtime: Runtime, tenant_id: str, user_id: str, allow_system: bool = False) -> None:
    """Bad input unless `user_id` is or was a member (or, with allow_system, an actor such as `system`)."""
    if allow_system and user_id in ("system", "operator", "invitee"):
        return
    if runtime.queries.member(tenant_id, user_id) is None:
        raise BadInput(f"no user {user_id!r} was ever a member of tenant {tenant_id!r}")


def _open(create_tables: bool, clock: Clock | None) -> Runtime:
    from api.cli.startup import configured
    from api.runtime import open_runtime
    from domain.storage import parse_database_url

    settings = configured()
    try:
        database = parse_database_url(settings.database_url)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if database.kind == "sqlite" and not create_tables and not os.path.exists(database.path):
        raise BadInput(f"no database at {database.path}: run `accessledger demo` (or serve) first")
    return open_runtime(settings, create_tables=create_tables, clock=clock)


@contextmanager
def ledger_for(
    command: str, need_events: bool = True, create_tables: bool = False, clock: Clock | None = None
) -> Iterator[Runtime]:
    """The configured database opened for `command` (the composition root's Runtime); foreseeable problems become
    one line and exit status 2. `clock` replaces the configured one (the demo writes a year at chosen instants)."""
    runtime = None
    try:
        runtime = _open(create_tables, clock)
        if need_events and _head(runtime) == 0:
            raise BadInput("the database holds no events yet: run `accessledger demo` to fill it")
        yield runtime
    except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise  # an exit status chosen on purpose (typer's Exit is not click's any more)
    except BadInput as exc:
        fail(str(exc))
    except DomainError as exc:
        fail(exc.detail)
    except _database_errors() as exc:
        fail(_database_problem(exc))
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as exc:
        if os.environ.get("ACCESSLEDGER_DEBUG") or type(exc).__module__.split(".")[0] in ("typer", "click"):
            raise
        if type(exc).__module__.split(".")[0] in ("psycopg", "psycopg_pool", "eventsourcing"):
            fail(_database_problem(exc))
        text = " ".join(str(exc).split())
        fail(f"internal error: {type(exc).__name__}: {text} (ACCESSLEDGER_DEBUG=1 shows the traceback)", code=1)
    finally:
        if runtime is not None:
            with suppress(Exception):  # closing on the way out must not hide the real outcome
                runtime.close()


def _head(runtime: Runtime) -> int:
    try:
        return runtime.ledger.head_position()
    except Exception as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return 0
        raise


def _database_errors() -> tuple[type[BaseException], ...]:
    """The driver's and eventsourcing's database errors (unreachable server, missing tables, …)."""
    import psycopg
    from eventsourcing.persistence import PersistenceError

    return sqlite3.Error, psycopg.Error, PersistenceError


def _database_problem(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return f"the read models are not built in this database ({text}): run `accessledger replay rebuild`"
    if "connection" in text or "connect" in text:
        return f"cannot reach the database ({text}): is the server up, and does the database exist?"
    return f"database problem: {text}"


def _quiet_broken_pipe() -> None:
    """The reader (`| head`) went away: stop without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    raise typer.Exit(0)


def note_lag(runtime: Runtime) -> None:
    """Tell (on standard error) when the read models are behind the event store: answers are as of their position."""
    try:
        lag = runtime.lag()
    except Exception:
        return
    if lag:
        stderr.print(
            f"note: the read models are {lag} event{'s' if lag != 1 else ''} behind the event store "
            "(is `accessledger serve` or `project` running?)",
            markup=False,
        )
