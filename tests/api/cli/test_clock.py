"""R-K2: a command reads the same manual clock as the server, standing still at the instant the server stands at."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from api.cli.support import ledger_for
from api.runtime import build_services
from api.settings import Settings


@pytest.fixture
def manual_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ACCESSLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("ACCESSLEDGER_CLOCK", "manual")
    return Settings(database_url=database_url, clock="manual", sweep_interval_seconds=0, secret_key="k")


def command_now():
    with ledger_for("test", need_events=False) as runtime:
        return runtime.now()


def test_R_K2_command_reads_the_instant_the_server_stands_at(manual_env: Settings) -> None:
    """R-K2: started, then set forward: each time a command reads exactly the server's instant, not the system time."""
    services = build_services(manual_env)
    try:
        started = services.now()
        time.sleep(0.01)  # the system time moves on; neither clock may follow it
        assert command_now() == started
        assert services.now() == started
        later = services.manual_clock.set(started + timedelta(days=3))
        assert command_now() == later == services.now()
    finally:
        services.close()


def test_R_K2_restarted_server_starts_where_it_stood(manual_env: Settings) -> None:
    """R-K2: a restart starts at the later of the system time and the last instant set (never earlier)."""
    services = build_services(manual_env)
    try:
        future = services.manual_clock.set(services.now() + timedelta(days=30))
    finally:
        services.close()
    restarted = build_services(manual_env)
    try:
        assert restarted.now() == future == command_now()
    finally:
        restarted.close()
