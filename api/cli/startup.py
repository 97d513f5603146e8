"""What every command does before its work: read and check the configuration, and reach the database; any problem
is one line on standard error (`accessledger: error: …`) and exit status 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

from api.cli.output import fail, stderr
from api.settings import ConfigurationError, Settings, load_settings, warn_unknown_variables_once
from domain.storage import Database, parse_database_url


def configured(reach_database: bool = True, reach_replica: bool = False) -> Settings:
    """The checked settings; warns once about unknown ACCESSLEDGER_* variables; exits 2 on the first problem.
    `reach_replica`: the command reads the replica (`serve`), so it must be reachable and the primary's (R-Z6)."""
    warn_unknown_variables_once(lambda line: stderr.print(f"accessledger: warning: {line}", markup=False))
    try:
        settings = load_settings()
        if reach_database:
            check_database(settings, reach_replica)
    except ConfigurationError as exc:
        fail(str(exc))
    return settings


def check_database(settings: Settings, reach_replica: bool = False) -> None:
    """ConfigurationError when the configured database cannot be used: a SQLite file's directory is missing, or
    PostgreSQL refuses (host, port, database, user and the server's own reason), or the schema does not exist."""
    database = parse_database_url(settings.database_url)
    if database.kind == "sqlite":
        _check_sqlite(settings.database_url, database)
    else:
        _check_postgresql(database)
    replica = settings.read_database
    if replica is not None and reach_replica:
        _check_postgresql(replica, "ACCESSLEDGER_READ_DATABASE_URL: ")
        _check_same_cluster(database, replica)


def _check_sqlite(url: str, database: Database) -> None:
    path = Path(database.path or "").resolve()
    if path.parent.is_dir():
        return
    hint = ""
    written = url[len("sqlite:///") :]
    if not written.startswith("/") and Path("/" + written).parent.is_dir():
        hint = f" (sqlite:/// is followed by a relative path; for /{written} write sqlite:////{written})"
    raise ConfigurationError(
        f"ACCESSLEDGER_DATABASE_URL={url!r}: the directory {path.parent} of the SQLite file {path} does not exist"
        + hint
    )


def _check_postgresql(database: Database, setting: str = "") -> None:
    import psycopg

    where = f"{setting}PostgreSQL at {database.host}:{database.port}, database {database.dbname!r}"
    where += f" as user {database.user!r}"
    try:
        with psycopg.connect(database.conninfo(), connect_timeout=5, autocommit=True) as conn:
            if database.schema:
                found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (database.schema,)).fetchone()
                if not found:
                    raise ConfigurationError(
                        f"schema {database.schema!r} does not exist in {where}: create it first "
                        f"(CREATE SCHEMA {database.schema}) or leave ?schema= out"
                    )
    except psycopg.Error as exc:
        raise ConfigurationError(f"cannot connect to {where}: {_server_reason(exc)}") from None


def _check_same_cluster(primary: Database, replica: Database) -> None:
    """A read database must be the primary's streaming replica (or the primary itself): the same system identifier.
    Anything else (a copy, another server) would answer queries from data the projector never writes (R-Z6)."""
    import psycopg

    identifiers = []
    for database in (primary, replica):
        try:
            with psycopg.connect(database.conninfo(), connect_timeout=5, autocommit=True) as conn:
                identifiers.append(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
        except psycopg.errors.InsufficientPrivilege:
            return  # a role without pg_monitor cannot tell; the replica's tracking rows will show it soon enough
        except psycopg.Error as exc:
            raise ConfigurationError(f"cannot check ACCESSLEDGER_READ_DATABASE_URL: {_server_reason(exc)}") from None
    if identifiers[0] != identifiers[1]:
        raise ConfigurationError(
            f"ACCESSLEDGER_READ_DATABASE_URL: PostgreSQL at {replica.host}:{replica.port} is not a streaming replica "
            f"of the primary at {primary.host}:{primary.port} (system identifiers {identifiers[1]} and "
            f"{identifiers[0]} differ): point it at a replica made from the primary (pg_basebackup -R)"
        )


def _server_reason(exc: BaseException) -> str:
    """The server's (or the network's) own words, without psycopg's repetition of the address."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for marker in ("FATAL: ", "failed: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text.strip()


def debugging() -> bool:
    """ACCESSLEDGER_DEBUG=1 shows tracebacks instead of the one-line messages."""
    return bool(os.environ.get("ACCESSLEDGER_DEBUG"))
