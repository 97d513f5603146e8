"""Every index a rebuild defers (projections.rebuild.DEFERRED_INDEXES) is one the projections create: a renamed or
dropped label would otherwise be skipped silently and the queries that need it would scan (R-R1, R-C4)."""

from __future__ import annotations

from projections.rebuild import DEFERRED_INDEXES
from tests.projections.random_history import index_names
from tests.projections.readside import read_side


def test_R_R1_every_deferred_index_is_one_the_projections_create(ledger, clock) -> None:
    with read_side(ledger, clock) as rs:
        rs.sync()
        created = index_names(rs.store)
    deferred = {f"{table}_{label}" for table, labels in DEFERRED_INDEXES.items() for label in labels}
    assert deferred - created == set()
    assert "permission_history_holders_open" in deferred
