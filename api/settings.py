"""The server's configuration, read from `ACCESSLEDGER_*` environment variables (API.md, Command line)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.storage import DEFAULT_URL


class Settings(BaseSettings):
    """Everything `create_app` needs; each field is `ACCESSLEDGER_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ACCESSLEDGER_", extra="ignore")

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
    # Where queries read (R-Z6): a PostgreSQL streaming replica of `database_url`; commands and the projector
    # always use the primary. Unset: queries read the primary too.
    read_database_url: str | None = None
    # Database connections this process may open besides its one listening connection (R-Z5), shared between the
    # event store and the read side; at least 2 (one each).
    db_pool_size: int = Field(default=10, ge=2, le=1000)
    # Memory the access cache may hold, in MiB (R-Z5); least recently used tenants are dropped first.
    cache_mb: float = Field(default=256, gt=0, le=1_048_576)
