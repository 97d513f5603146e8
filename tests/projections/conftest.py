"""Fixtures for the projection tests (the database ones, `ledger` and `clock`, are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import AccessLedger
from projections.db import ReadStore


@pytest.fixture
def store(ledger: AccessLedger) -> Iterator[ReadStore]:
    """The read store on the test's database (SQLite and PostgreSQL), closed after the test."""
    read_store = ReadStore(ledger.database)
    yield read_store
    read_store.close()
