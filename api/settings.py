"""The server's configuration, read from `ACCESSLEDGER_*` environment variables (docs/operations.md).

`load_settings` turns every bad value into one `ConfigurationError` line that names the variable, the value given
(passwords as `***`) and what would be accepted; the command line prints it and exits with status 2.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.storage import DEFAULT_URL, Database, parse_database_url

PREFIX = "ACCESSLEDGER_"
PG_FORM = "postgresql://user:password@replica-host:5432/dbname"
URL_FORMS = "sqlite:///relative/file.db, sqlite:////absolute/file.db or postgresql://user:password@host:5432/dbname"
# Read by other parts of the program, not by Settings; never warned about.
OTHER_VARIABLES = frozenset({"ACCESSLEDGER_DEBUG"})


class ConfigurationError(ValueError):
    """A setting that cannot work; the message is the one line the user sees."""


class Settings(BaseSettings):
    """Everything `create_app` needs; each field is `ACCESSLEDGER_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    database_url: str = DEFAULT_URL
    operator_token: str | None = None
    clock: Literal["system", "manual"] = "system"
    # Encrypts the secrets of stored idempotent answers (R-X3); a random key per process when unset.
    secret_key: str | None = None
    # How often the background sweep applies due changes (R-K1: at least once a minute); 0 turns it off.
    sweep_interval_seconds: float = Field(default=30, ge=0, le=60)
    # Project events inside the API process (commands answer after their projections caught up).
    in_process_projections: bool = True
    # Idempotency keys are kept at least this long (R-X3: 24 h).
    idempotency_retention_hours: float = Field(default=48, ge=24)
    # A PostgreSQL streaming replica of the primary that serving processes read their queries from (R-Z6);
    # commands, idempotency, the clock, the key store and the projector stay on the primary.
    read_database_url: str | None = None
    # Database connections this process may open besides its one listening connection (R-Z5), shared between the
    # event store and the read side; at least 2 (one each).
    db_pool_size: int = Field(default=10, ge=2, le=1000)
    # Memory the access cache may hold, in MiB (R-Z5); least recently used tenants are dropped first.
    cache_mb: float = Field(default=256, gt=0, le=1_048_576)

    @field_validator("read_database_url", mode="before")
    @classmethod
    def _empty_means_no_replica(cls, url: Any) -> Any:
        return None if isinstance(url, str) and not url.strip() else url

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _database_url_has_a_known_shape(cls, url: str | None) -> str | None:
        problem = database_url_problem(url) if url is not None else None
        if problem:
            raise ValueError(problem)
        return url

    @model_validator(mode="after")
    def _replica_of_a_postgresql_primary(self) -> Settings:
        if self.read_database_url is None:
            return self
        if not self.read_database_url.lower().startswith("postgres"):
            raise ValueError(f"a read replica is a PostgreSQL streaming replica (R-Z6); use {PG_FORM}")
        if not self.database_url.lower().startswith("postgres"):
            raise ValueError(
                "read replicas need a PostgreSQL primary, but ACCESSLEDGER_DATABASE_URL is SQLite, one file with no "
                "replicas: leave ACCESSLEDGER_READ_DATABASE_URL unset (R-Z6)"
            )
        primary, replica = (urlsplit(url).query for url in (self.database_url, self.read_database_url))
        theirs = (parse_qs(replica).get("schema") or [None])[0]
        ours = (parse_qs(primary).get("schema") or [None])[0]
        if theirs is not None and theirs != ours:
            raise ValueError(
                f"it names schema {theirs!r} and the primary {ours!r}: a streaming replica holds the primary's "
                "schemas, so name the same schema or none"
            )
        return self

    @property
    def read_database(self) -> Database | None:
        """The replica queries read (R-Z6), in the primary's schema unless its URL names one; None without one."""
        if self.read_database_url is None:
            return None
        replica = parse_database_url(self.read_database_url)
        if replica.schema is None:
            replica = replace(replica, schema=parse_database_url(self.database_url).schema)
        return replica

    @property
    def shown_database_url(self) -> str:
        """The database URL as it may be printed: the password as `***`."""
        return redacted_url(self.database_url)


def redacted_url(url: str) -> str:
    """`url` with its password replaced by `***` (for messages and logs)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        password = None
        parts = None
    if parts is None or not password:
        return re.sub(r"^(\w[\w+.-]*://[^:/@]*):[^@]*@", r"\1:***@", url)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def database_url_problem(url: str) -> str | None:
    """Why `url` cannot name a database (scheme and shape only, nothing is opened), or None."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or url.startswith("sqlite:///?") or url == "sqlite:///":
            return f"a SQLite URL is sqlite:/// followed by the file's path; use {URL_FORMS}"
        if "?" in url or "#" in url:
            return "a SQLite URL takes no query (?…) or fragment (#…)"
        return None
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError as exc:
            return f"not a PostgreSQL URL ({exc}); use {URL_FORMS}"
        if not parts.hostname:
            return f"the PostgreSQL URL names no host; use {URL_FORMS}"
        if not parts.path.strip("/") or "/" in parts.path.strip("/"):
            return f"the PostgreSQL URL names no database (the path after the host); use {URL_FORMS}"
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"schema"})
        if unknown:
            return f"unknown URL parameter {unknown[0]!r}: only ?schema=name is accepted"
        schema = (query.get("schema") or [None])[0]
        if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
            return f"schema {schema!r} is not a plain lower-case SQL name ([a-z_][a-z0-9_]*, at most 63 characters)"
        return None
    return f"unsupported database; use {URL_FORMS}"


# What each setting accepts, for the one-line error.
_ACCEPTED = {
    "database_url": URL_FORMS,
    "clock": "system or manual",
    "sweep_interval_seconds": "a number of seconds from 0 (off) to 60 (R-K1: due changes apply at least once a minute)",
    "in_process_projections": "true or false",
    "idempotency_retention_hours": "a number of hours, at least 24 (R-X3)",
    "db_pool_size": "a whole number of connections from 2 to 1000 (R-Z5)",
    "cache_mb": "a number of MiB above 0 (R-Z5)",
}


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `overrides`); ConfigurationError names the first bad one in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_one_line(exc, os.environ)) from None


def _one_line(exc: ValidationError, environ: Mapping[str, str]) -> str:
    error = exc.errors()[0]
    # The one check across settings (a replica needs a PostgreSQL primary) is about the replica's URL.
    field = str(error["loc"][0]) if error["loc"] else "read_database_url"
    variable = PREFIX + field.upper()
    given = environ.get(variable, error.get("input"))
    if isinstance(given, dict):
        given = given.get(field)
    is_url = field in ("database_url", "read_database_url")
    shown = redacted_url(str(given)) if is_url else str(given)
    message = str(error["msg"]).removeprefix("Value error, ")
    if is_url:
        return f"{variable}={shown!r}: {message}"
    accepted = _ACCEPTED.get(field)
    return f"{variable}={shown!r} is not accepted: {accepted or message}"


_warned = False


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per `ACCESSLEDGER_*` variable that no setting reads (a misspelling, most likely)."""
    environ = os.environ if environ is None else environ
    known = {PREFIX + name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    warnings = []
    for name in sorted(n for n in environ if n.upper().startswith(PREFIX) and n not in known):
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"
        warnings.append(f"{name} is not a setting and is ignored{hint}")
    return warnings


def warn_unknown_variables_once(warn: Any, environ: Mapping[str, str] | None = None) -> None:
    """Call `warn(line)` for each unknown `ACCESSLEDGER_*` variable, the first time only in this process."""
    global _warned
    if _warned:
        return
    _warned = True
    for line in unknown_variables(environ):
        warn(line)
