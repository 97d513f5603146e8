"""R-L4: each exported JSON line is exactly the compact JSON of the entry the API answers (`entry_of`), although the
export splices the stored canonical `data` in instead of parsing and re-dumping it (issue 8, performance)."""

from __future__ import annotations

import json

from domain.application import AccessLedger, Actor
from domain.clock import ManualClock
from projections.audit.projection import TABLE, audit_export, audit_page, entry_of, jsonl_line
from tests.projections.readside import read_side
from tests.support import open_tenant


def test_R_L4_export_line_equals_the_entry_json_with_awkward_text(ledger: AccessLedger, clock: ManualClock) -> None:
    """Non-ASCII, quotes, backslashes and control characters in names and reasons come out byte for byte."""
    opened = open_tenant(ledger)
    awkward = 'Zoë "Q" \\ back\tslash\nline \u2028 ✓'
    ledger.add_member(
        opened.tenant_id,
        Actor(opened.owner_id, "req-1", reason=awkward),
        user_id="zoe",
        email="zoe@acme.example",
        name=awkward,
        role="broker",
    )
    ledger.assign(
        opened.tenant_id,
        Actor(opened.owner_id, "req-2"),
        resource_type="lead",
        resource_ids=["L-1", "L-2"],
        user_id="zoe",
    )
    with read_side(ledger, clock) as side:
        side.sync()
        rows = side.rows(f"SELECT * FROM {TABLE} WHERE tenant_id = ? ORDER BY sequence", (opened.tenant_id,))
        text = "".join(audit_export(side.store, opened.tenant_id, "jsonl"))
        with side.store.reader() as tx:
            entries, _ = audit_page(tx, opened.tenant_id)
    # Split on "\n" only: str.splitlines would also split at the U+2028 that JSON leaves unescaped.
    exported = [line + "\n" for line in text.split("\n")[:-1]]
    assert len(rows) == 4  # opened, member added, token issued, resources assigned
    stored = [json.dumps(entry_of(row), ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows]
    assert [jsonl_line(row) for row in rows] == stored
    # The export is the API's entries: personal values open, with `sealed` where there are any (R-L6).
    assert exported == [json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries]
    assert any(awkward in json.loads(line)["data"].get("name", "") for line in exported)
