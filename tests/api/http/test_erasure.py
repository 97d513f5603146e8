"""R-L6 erasure by crypto-shredding over HTTP, on SQLite and PostgreSQL: who may erase whom, `[erased]` in every
read, the chain and a rebuild unchanged, exports and reports free of the data, stored answers deleted, and (SQLite)
the database files never holding the e-mail or name in clear."""

from __future__ import annotations

from pathlib import Path

from replay.rebuild import rebuild
from tests.api.http.client import TENANT, Api, assert_problem

ERASURES = f"/v1/tenants/{TENANT}/erasures"
EMAIL, NAME, WHY = "ex.person@acme.example", "Exa Personsdottir", "Wechsel zur Konkurrenz: Vertraulich"
INVITEE = "invitee.only@acme.example"


def _story(acme: Api) -> None:
    """`ex` joins, holds a grant, leaves with a personal reason; an invitation to INVITEE is revoked."""
    body = {"user_id": "ex", "email": EMAIL, "name": NAME, "role": "broker"}
    assert acme.post(f"/v1/tenants/{TENANT}/members", json=body, headers={"Idempotency-Key": "add-ex"}).status_code
    acme.post(f"/v1/tenants/{TENANT}/grants", json={"user_id": "ex", "permission": "billing.view", "scope": "all"})
    assert acme.delete(f"/v1/tenants/{TENANT}/members/ex", headers={"X-Reason": WHY}).status_code == 200
    invited = acme.post(f"/v1/tenants/{TENANT}/invitations", json={"email": INVITEE, "role": "broker"}).json()
    acme.delete(f"/v1/tenants/{TENANT}/invitations/{invited['invitation']['invitation_id']}")
    acme.add_member("bob", "broker")


def _texts(acme: Api) -> str:
    """Everything a reader can get about the tenant, as one text."""
    t = f"/v1/tenants/{TENANT}"
    parts = [
        acme.get(f"{t}/members", params={"status": "all"}).text,
        acme.get(f"{t}/members/ex").text,
        acme.get(f"{t}/invitations").text,
        acme.get(f"{t}/audit", params={"limit": 1000}).text,
        acme.get(f"{t}/audit/export", params={"format": "jsonl"}).text,
        acme.get(f"{t}/audit/export", params={"format": "csv"}).text,
    ]
    first = acme.events()[0]["recorded_at"]
    parts.append(acme.get(f"{t}/access-report", params={"format": "csv", "as_of": first}).text)
    return "\n".join(parts)


def _hashes(acme: Api) -> list[tuple[int, str]]:
    return [(e["sequence"], e["hash"]) for e in acme.events()]


def _files(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_r_l6_erasure_keeps_the_chain_and_every_read_says_erased(acme: Api, database_url: str) -> None:
    """R-L6: before, reads show the data; after, `[erased]` everywhere (API, audit, exports, report), verify and a
    rebuild pass with every hash unchanged, PersonErased names who and why without the data."""
    _story(acme)
    before = _texts(acme)
    assert EMAIL in before and NAME in before and WHY in before and INVITEE in before
    hashes = _hashes(acme)
    if database_url.startswith("sqlite"):
        assert EMAIL.encode() not in _files(database_url) and NAME.encode() not in _files(database_url)

    answer = acme.post(ERASURES, json={"user_id": "ex", "reason": "DSGVO Art. 17, Antrag 42"})
    assert answer.status_code == 201, answer.text
    erasure = answer.json()["erasure"]
    assert erasure["fields"] == ["email", "name", "reason"] and erasure["erasure_id"].startswith("erasure_")
    by_email = acme.post(ERASURES, json={"email": INVITEE, "reason": "Antrag 43"})
    assert by_email.status_code == 201 and by_email.json()["erasure"]["fields"] == ["email", "reason"]

    after = _texts(acme)
    for text in (EMAIL, NAME, WHY, INVITEE):
        assert text not in after, text
    assert "[erased]" in after
    member = acme.get(f"/v1/tenants/{TENANT}/members/ex").json()
    assert (member["email"], member["name"]) == ("[erased]", "[erased]")
    assert _hashes(acme)[: len(hashes)] == hashes
    erased = [e for e in acme.events() if e["event_type"] == "PersonErased"]
    assert erased[0]["subject"] == "ex" and erased[0]["reason"] == "DSGVO Art. 17, Antrag 42"
    assert erased[1]["data"]["user_id"] is None and "email" not in erased[1]["data"]
    assert acme.get(f"/v1/tenants/{TENANT}/audit/verify").json()["ok"] is True

    services = acme.http.app.state.services
    result = rebuild(services.ledger, services.store)
    assert result["ok"], result
    assert _hashes(acme)[: len(hashes)] == hashes
    assert EMAIL not in _texts(acme)
    if database_url.startswith("sqlite"):
        files = _files(database_url)
        assert EMAIL.encode() not in files and NAME.encode() not in files and INVITEE.encode() not in files


def test_r_l6_only_former_people_are_erased_and_refusals_record_nothing(acme: Api) -> None:
    """R-L6: an active member or pending invitee is 409 still_active, a stranger 404, a broker 403, both or none
    of user_id/email 422, the operator 403 over HTTP; none of them records anything."""
    _story(acme)
    acme.post(f"/v1/tenants/{TENANT}/invitations", json={"email": "pending@acme.example", "role": "broker"})
    count = len(acme.events())
    assert_problem(acme.post(ERASURES, json={"user_id": "bob", "reason": "r"}), 409, "still_active")
    assert_problem(acme.post(ERASURES, json={"user_id": "olga", "reason": "r"}), 409, "still_active")
    assert_problem(acme.post(ERASURES, json={"email": "pending@acme.example", "reason": "r"}), 409, "still_active")
    assert_problem(acme.post(ERASURES, json={"user_id": "nobody", "reason": "r"}), 404, "not_found")
    assert_problem(acme.post(ERASURES, "bob", json={"user_id": "ex", "reason": "r"}), 403, "forbidden")
    assert_problem(acme.post(ERASURES, "operator", json={"user_id": "ex", "reason": "r"}), 403, "forbidden")
    both = {"user_id": "ex", "email": EMAIL, "reason": "r"}
    assert_problem(acme.post(ERASURES, json=both), 422, "validation_error")
    assert_problem(acme.post(ERASURES, json={"reason": "r"}), 422, "validation_error")
    assert_problem(acme.post(ERASURES, json={"user_id": "ex"}), 422, "validation_error")
    assert len(acme.events()) == count
    assert EMAIL in acme.get(f"/v1/tenants/{TENANT}/members/ex").text


def test_r_l6_stored_answers_holding_the_person_are_deleted(acme: Api) -> None:
    """R-L6 with R-X3: the stored first answer of adding `ex` (which held their e-mail and name) is gone after the
    erasure, and no stored answer holds the e-mail in clear even before."""
    _story(acme)
    store = acme.http.app.state.services.store
    with store.reader(raw=True) as tx:
        bodies = [r["body"] for r in tx.all("SELECT body FROM idempotency_keys WHERE idem_key = 'add-ex'")]
    assert bodies and EMAIL not in bodies[0] and NAME not in bodies[0]
    replayed = acme.post(
        f"/v1/tenants/{TENANT}/members",
        json={"user_id": "ex", "email": EMAIL, "name": NAME, "role": "broker"},
        headers={"Idempotency-Key": "add-ex"},
    )
    assert replayed.json()["member"]["email"] == EMAIL
    assert acme.post(ERASURES, json={"user_id": "ex", "reason": "Antrag"}).status_code == 201
    with store.reader(raw=True) as tx:
        assert tx.all("SELECT body FROM idempotency_keys WHERE idem_key = 'add-ex'") == []
