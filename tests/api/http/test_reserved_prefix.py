"""R-L6's reserved prefix over HTTP, on SQLite and PostgreSQL: text that begins with `pd1:` (the mark of a sealed
personal value) is refused with 422 `validation_error` and records nothing (R-X6), and a store written before the
prefix was reserved, which may hold such text in clear, is read as it was written: the tenant loads, the audit
chain verifies, and a rebuild hashes it to the same bytes (R-L2, R-R1)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.personal_mapper import PersonalDataMapper
from domain.tenant.aggregate import tenant_uuid
from replay.rebuild import rebuild
from tests.api.http.client import TENANT, Api, assert_problem

ROLES = f"/v1/tenants/{TENANT}/roles"
MEMBERS = f"/v1/tenants/{TENANT}/members"
ROLE = {"role_id": "desk", "name": "Desk", "includes": [], "permissions": []}
MEMBER = {"user_id": "bea", "email": "bea@acme.example", "name": "Bea", "role": "broker"}


def _stored(acme: Api) -> tuple[list[bytes], list[tuple[str, str]]]:
    """The tenant's stored events and its person key rows."""
    services = acme.http.app.state.services
    events = [bytes(e.state) for e in services.ledger.recorder.select_events(tenant_uuid(TENANT))]
    with services.store.reader(raw=True) as tx:
        rows = tx.all("SELECT person FROM person_keys WHERE tenant_id = ? ORDER BY person", (TENANT,))
    return events, [(TENANT, r["person"]) for r in rows]


CASES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "R-P7 reason": (ROLES, ROLE, {"X-Reason": "pd1:"}),
    "R-P7 role name": (ROLES, {**ROLE, "name": "pd1:Desk"}, {}),
    "R-M2 name": (MEMBERS, {**MEMBER, "name": "pd1:Bea"}, {}),
    "R-M2 email": (MEMBERS, {**MEMBER, "email": "pd1:bea@acme.example"}, {}),
    "R-M2 reason": (MEMBERS, MEMBER, {"X-Reason": "pd1:acme:user:bea:x"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_R_L6_R_X6_text_beginning_with_the_reserved_prefix_is_a_422(case: str, acme: Api) -> None:
    """R-L6, R-X6: a request whose text would be stored beginning with `pd1:` answers 422 `validation_error`
    naming the prefix; no event and no key is stored, and the tenant takes the same request with ordinary text."""
    path, body, headers = CASES[case]
    before = _stored(acme)
    answer = acme.post(path, json=body, headers=headers)
    problem = assert_problem(answer, 422, "validation_error")
    assert "pd1:" in problem["detail"]
    assert _stored(acme) == before
    assert acme.post(path, json=ROLE if path == ROLES else MEMBER).status_code == 201
    assert acme.get(f"/v1/tenants/{TENANT}/audit/verify").json()["ok"] is True


def test_R_L6_R_L2_clear_text_with_the_prefix_in_an_old_store_reads_as_written(
    acme: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-L6, R-L2, R-R1: events written before the prefix was reserved (simulated by switching the refusal off)
    hold `pd1:` text in clear where an envelope would be (a member's name, a person event's reason) and where none
    would be (a role's reason). It reads as clear text: the tenant loads and takes commands, the audit shows the
    text, verify passes, and a rebuild gives every hash again."""
    with monkeypatch.context() as old_store:
        old_store.setattr(PersonalDataMapper, "_refuse_reserved_text", lambda *args: None, raising=False)
        assert acme.post(ROLES, json=ROLE, headers={"X-Reason": "pd1:"}).status_code == 201
        added = acme.post(MEMBERS, json={**MEMBER, "name": "pd1:Bea"}, headers={"X-Reason": "pd1:x:y"})
        assert added.status_code == 201, added.text
    changed = acme.put(f"{ROLES}/desk", json={"name": "Front desk", "includes": [], "permissions": []})
    assert changed.status_code == 200, changed.text  # the tenant loads and takes commands
    assert acme.get(f"{MEMBERS}/bea").json()["name"] == "pd1:Bea"
    entries = acme.events()
    reasons = {e["event_type"]: e["reason"] for e in entries}
    assert reasons["RoleDefined"] == "pd1:" and reasons["MemberAdded"] == "pd1:x:y"
    assert acme.get(f"/v1/tenants/{TENANT}/audit/verify").json()["ok"] is True
    hashes = [(e["sequence"], e["hash"]) for e in entries]

    services = acme.http.app.state.services
    result = rebuild(services.ledger, services.store)
    assert result["ok"], result
    assert [(e["sequence"], e["hash"]) for e in acme.events()][: len(hashes)] == hashes
    assert acme.get(f"/v1/tenants/{TENANT}/audit/verify").json()["ok"] is True
