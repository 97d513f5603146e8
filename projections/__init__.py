"""Read models built from the event history: directory, permission history, audit trail and change feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projections.runner import Projection


def all_projections() -> list[Projection]:
    """Every projection the runner keeps up to date, in the order it applies a batch."""
    from projections.audit.projection import AuditProjection
    from projections.changes.projection import ChangesProjection
    from projections.directory.projection import DirectoryProjection
    from projections.history.projection import HistoryProjection

    # The change feed reads what the directory and the history wrote for the same batch: it comes after them.
    return [DirectoryProjection(), HistoryProjection(), AuditProjection(), ChangesProjection()]
