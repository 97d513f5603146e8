"""Positions follow commit order (R-X4): the projector reads the notification log after its position and never goes
back, so an event that commits after a later one with a lower position would be skipped for good. The recorder we
use serialises appends (PostgreSQL: `LOCK TABLE … IN EXCLUSIVE MODE` until the commit; SQLite: the write lock);
eventsourcing's one-round-trip path through a database function does not, which is why it is not used (issue 17,
docs/operations.md "The write ceiling of one primary").
"""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from tests.support import add_member, open_tenant

HELD = "first-append"


def test_R_X4_an_append_waits_until_an_earlier_one_commits(ledger):
    """A second append (another tenant) cannot commit while the first holds inserted, uncommitted rows; the
    positions then come out in commit order."""
    open_tenant(ledger, "t-a")
    open_tenant(ledger, "t-b")
    recorder = ledger.recorder
    # The last step inside the append's transaction, after its rows are inserted (and the table lock taken).
    hook = "_fetch_ids_after_insert_events" if ledger.database.kind == "postgresql" else "_insert_events"
    original = getattr(recorder, hook)
    inserted, release = threading.Event(), threading.Event()

    def held(*args, **kwargs):
        answer = original(*args, **kwargs)
        if threading.current_thread().name == HELD:
            inserted.set()
            assert release.wait(30)
        return answer

    setattr(recorder, hook, held)
    results: dict[str, int] = {}

    def append(tenant: str) -> None:
        results[tenant] = add_member(ledger, f"u-{tenant}", tenant_id=tenant).position

    first = threading.Thread(target=append, args=("t-a",), name=HELD)
    second = threading.Thread(target=append, args=("t-b",))
    first.start()
    try:
        assert inserted.wait(30)
        second.start()
        second.join(1.0)
        assert second.is_alive(), "the second append committed while the first was still open"
    finally:
        release.set()
        first.join(30)
        second.join(30)
    assert results["t-a"] < results["t-b"]


def _insert_through_function(conn: psycopg.Connection, recorder, originator: uuid.UUID) -> int:
    schema = recorder.datastore.schema
    row = conn.execute(
        f'SELECT * FROM "{schema}"."{recorder.pg_function_name_insert_events}"('
        f'ARRAY[ROW(%s, 1, %s, %s)::"{schema}"."{recorder.stored_event_type_name}"])',
        (originator, "bench:Probe", b"{}"),
    ).fetchone()
    return row[0]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_R_X4_eventsourcing_db_functions_give_positions_out_of_commit_order(ledger):
    """What keeps the function path out: it takes no table lock, so a later call commits a higher position while
    an earlier one is still open; a reader at that position has passed the lower one, which commits after."""
    recorder = ledger.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    conninfo = ledger.database.conninfo()
    with psycopg.connect(conninfo) as slow, psycopg.connect(conninfo, autocommit=True) as fast:
        slow.execute("SET lock_timeout = '5s'")
        lower = _insert_through_function(slow, recorder, uuid.uuid4())  # open transaction, not committed
        fast.execute("SET lock_timeout = '5s'")  # a table lock here would time out, not hang the test
        higher = _insert_through_function(fast, recorder, uuid.uuid4())  # commits at once
        seen = [r[0] for r in fast.execute(f"SELECT notification_id FROM {table} ORDER BY notification_id")]
        slow.commit()
        later = [r[0] for r in fast.execute(f"SELECT notification_id FROM {table} ORDER BY notification_id")]
    assert lower < higher
    assert higher in seen and lower not in seen  # a reader advancing to `higher` has passed `lower` ...
    assert lower in later  # ... which then commits behind it
