"""Projections dispatch on event classes (R-L1: every event reaches the read models it changes)."""

from __future__ import annotations

import typing

import pytest

from domain.tenant.events import TenantEvent
from projections.directory.projection import DirectoryProjection
from projections.history import projection as history

TABLES = {"directory": DirectoryProjection.HANDLERS, "history": history.HANDLERS}


@pytest.mark.parametrize("name", TABLES)
def test_R_L1_handlers_are_keyed_by_event_class_and_typed_for_it(name: str) -> None:
    """R-L1: each handler is registered for a TenantEvent class and its `e` parameter is annotated with it."""
    handlers = TABLES[name]
    assert handlers
    for event, handler in handlers.items():
        assert isinstance(event, type) and issubclass(event, TenantEvent), event
        annotated = typing.get_type_hints(handler)["e"]
        accepted = typing.get_args(annotated) or (annotated,)
        assert event in accepted, f"{handler.__name__} handles {event.__name__} but is typed for {annotated}"
