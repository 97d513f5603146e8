"""Turn one `ACCESSLEDGER_DATABASE_URL` into eventsourcing's persistence settings (string handling only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_URL = "sqlite:///accessledger.db"


@dataclass(frozen=True)
class Database:
    """Where events and read models live: `kind` is `sqlite` or `postgresql`."""

    url: str
    kind: str
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = ""
    schema: str | None = None

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's factories read."""
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.path or "",
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_POOL_SIZE": "10",
            "POSTGRES_MAX_OVERFLOW": "20",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_PRE_PING": "y",
        }
        if self.schema:
            env["POSTGRES_SCHEMA"] = self.schema
        return env

    def conninfo(self) -> str:
        """A libpq connection string (PostgreSQL only)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}", f"user={self.user}"]
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)


def parse_database_url(url: str | None) -> Database:
    """Parse `sqlite:///path` or `postgresql://user:pass@host:port/db?schema=s`; ValueError on anything else."""
    url = url or DEFAULT_URL
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        raw = unquote(url[len("sqlite://") :])
        path = raw[1:] if raw.startswith("/") and not raw.startswith("//") else raw
        if raw.startswith("//"):
            path = raw[1:]
        if not path:
            raise ValueError(f"no file in database URL {url!r}")
        return Database(url=url, kind="sqlite", path=str(Path(path)))
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise ValueError(f"no database name in {url!r}")
        query = parse_qs(parts.query)
        return Database(
            url=url,
            kind="postgresql",
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
            schema=(query.get("schema") or [None])[0],
        )
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")
