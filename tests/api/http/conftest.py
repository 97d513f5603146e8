"""Fixtures for the HTTP API tests: an app on the test's database (SQLite and PostgreSQL), a manual clock, an
operator token, and the client of `tests.api.http.client` that speaks as the operator or as a member."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from tests.api.http.client import OPERATOR_TOKEN, Api


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A manual clock (R-K2), a known operator token and secret key, no background sweep (tests move time)."""
    return Settings(
        database_url=database_url,
        operator_token=OPERATOR_TOKEN,
        clock="manual",
        secret_key="test-secret-key",
        sweep_interval_seconds=0,
    )


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """A served app (lifespan running) on the test's database."""
    with TestClient(create_app(settings)) as http:
        yield Api(http)


@pytest.fixture
def acme(api: Api) -> Api:
    """`api` with tenant acme opened (owner olga, 5 seats, monthly, EUR)."""
    api.open_tenant()
    return api
