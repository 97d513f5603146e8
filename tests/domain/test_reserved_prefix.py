"""R-L6's reserved prefix, in-process, on SQLite and PostgreSQL: text a caller writes may not begin with `pd1:`
(the mark of a sealed personal value), wherever it would land in an event, so no such text poisons the store; the
refusal is a `validation_error` that records nothing, stores no key and is not retried (R-X2, R-X6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.application import AccessLedger
from domain.errors import DomainError
from domain.tenant.aggregate import tenant_uuid
from projections.db import ReadStore
from tests.support import TENANT, Opened, owner

ROLE = {"role_id": "desk", "name": "Desk", "includes": [], "permissions": []}


def _stored(ledger: AccessLedger, raw: ReadStore) -> tuple[list[bytes], set[tuple[str, str]]]:
    """The tenant's stored events and every person key row."""
    with raw.reader(raw=True) as tx:
        keys = {(r["tenant_id"], r["person"]) for r in tx.all("SELECT tenant_id, person FROM person_keys")}
    return [bytes(e.state) for e in ledger.recorder.select_events(tenant_uuid(TENANT))], keys


def _member(ledger: AccessLedger, reason: str | None = None, **fields: str) -> None:
    body = {"user_id": "bea", "email": "bea@acme.example", "name": "Bea", "role": "broker", **fields}
    ledger.add_member(TENANT, owner(reason=reason), **body)


REFUSED: dict[str, Callable[[AccessLedger], object]] = {
    # R-P7: define_role is no person command, so its reason is stored as written (no envelope to hide behind).
    "R-P7 reason": lambda ledger: ledger.define_role(TENANT, owner(reason="pd1:"), **ROLE),
    "R-P7 role name": lambda ledger: ledger.define_role(TENANT, owner(), **{**ROLE, "name": "pd1:x"}),
    # R-M2: the name, e-mail and reason are sealed; text that already looks sealed must not be stored as it is.
    "R-M2 name": lambda ledger: _member(ledger, name="pd1:Bea"),
    "R-M2 email": lambda ledger: _member(ledger, email="pd1:t:user:u:x@acme.example"),
    "R-M2 reason": lambda ledger: _member(ledger, reason="pd1:acme:user:bea:" + "0" * 64 + ":" + "A" * 60),
    # R-A1: resource ids become keys of the event's `previous_assignees`.
    "R-A1 dict key": lambda ledger: ledger.assign(
        TENANT, owner(), resource_type="lead", resource_ids=["pd1:L-1"], user_id="olga"
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_R_L6_R_X2_text_beginning_with_the_reserved_prefix_is_refused_in_process(
    case: str, opened: Opened, ledger: AccessLedger, raw: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-L6, R-X2: an application call whose event would hold clear text starting with `pd1:` is refused with a
    `validation_error` naming the prefix, tried once (no retry), and leaves no event and no key behind; the tenant
    then loads and takes the same command with ordinary text."""
    before = _stored(ledger, raw)
    loads = []
    load = ledger.load
    monkeypatch.setattr(ledger, "load", lambda tenant_id: loads.append(tenant_id) or load(tenant_id))
    with pytest.raises(DomainError) as refused:
        REFUSED[case](ledger)
    assert refused.value.code == "validation_error" and refused.value.status == 422
    assert "'pd1:'" in refused.value.detail and "reserved" in refused.value.detail
    assert len(loads) == 1
    assert _stored(ledger, raw) == before
    ledger.load(TENANT)
    _member(ledger, reason="Einstellung")
    ledger.define_role(TENANT, owner(reason="Empfang"), **ROLE)


def test_R_L6_text_holding_the_prefix_after_its_start_is_recorded(opened: Opened, ledger: AccessLedger) -> None:
    """R-L6: only text that *begins* with `pd1:` is reserved: a quote and the prefix inside a value (which the
    stored JSON writes as `\\"pd1:`) are ordinary text and come back as written."""
    ledger.define_role(TENANT, owner(reason='zitiert "pd1:"'), **{**ROLE, "name": 'Desk "pd1:x'})
    _member(ledger, reason='"pd1: kein Umschlag', name='Bea "pd1:"')
    tenant = ledger.load(TENANT)
    assert tenant.custom_roles["desk"].name == 'Desk "pd1:x'
    assert str(tenant.members["bea"].name) == 'Bea "pd1:"'
