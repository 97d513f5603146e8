"""Fixtures shared by the domain tests that look at what is stored (R-L6: envelopes, key rows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.storage import parse_database_url
from projections.db import ReadStore


@pytest.fixture
def raw(database_url: str) -> Iterator[ReadStore]:
    """The database as stored (envelopes unopened), through a connection of its own."""
    store = ReadStore(parse_database_url(database_url), pool_size=2)
    store.raw_reads = True
    try:
        yield store
    finally:
        store.close()
