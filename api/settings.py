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
