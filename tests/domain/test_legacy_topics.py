"""Stores written by the first release (events stored under the flat `domain.*` topics) load unchanged (R-L1).

The events are recorded on an in-memory ledger, rewritten to the old topics exactly as that release stored them,
inserted into a fresh database, and read back by the ledger and by every projection.
"""

from __future__ import annotations

from eventsourcing.persistence import StoredEvent

from domain.application import AccessLedger
from domain.clock import ManualClock
from domain.tenant.legacy_topics import LEGACY_MODULES
from tests.projections.readside import read_side
from tests.support import add_member, open_tenant, owner

_NEW_TO_OLD = {new: old for old, new in LEGACY_MODULES.items()}


def _old_topic(topic: str) -> str:
    module, _, name = topic.partition(":")
    return f"{_NEW_TO_OLD.get(module, module)}:{name}"


def _first_release_events(clock: ManualClock) -> list[StoredEvent]:
    """A tenant's history as the first release stored it: old event topics, old aggregate topic in the state."""
    source = AccessLedger(clock=clock, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        open_tenant(source)
        add_member(source, "bob")
        source.define_role(
            "acme",
            owner(),
            role_id="viewer",
            name="Viewer",
            includes=[],
            permissions=[{"permission": "leads.view_details"}],
        )
        notifications = source.recorder.select_notifications(start=1, limit=100)
    finally:
        source.close()
    stored = []
    for n in notifications:
        state = n.state.replace(b'"domain.tenant.aggregate:Tenant"', b'"domain.tenant:Tenant"')
        stored.append(StoredEvent(n.originator_id, n.originator_version, _old_topic(n.topic), state))
    return stored


def test_R_L1_store_written_with_first_release_topics_loads(database_url: str, clock: ManualClock) -> None:
    """R-L1: events under `domain.tenant_events:…`, `domain.access_events:…` and `domain.tenant:Tenant` load."""
    stored = _first_release_events(clock)
    topics = {s.topic.partition(":")[0] for s in stored}
    assert {"domain.tenant_events", "domain.access_events"} <= topics
    assert any(b'"domain.tenant:Tenant"' in s.state for s in stored)

    ledger = AccessLedger(database_url, clock)
    try:
        ledger.recorder.insert_events(stored)
        tenant = ledger.load("acme")
        assert set(tenant.members) == {"olga", "bob"}
        assert "viewer" in tenant.custom_roles
        with read_side(ledger, clock) as side:
            assert side.sync() == len(stored)
            assert side.q.member("acme", "bob") is not None
    finally:
        ledger.close()
