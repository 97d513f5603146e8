"""R-L6's key store beside the event store, on SQLite and PostgreSQL: a new person's key is stored in the
transaction that records their events (issue 15), so a recorded event never lacks its key and a command that records
nothing leaves no key; a key stored by another process is used, never replaced; an erased user id used again gets
a key of its own and the erased values stay `[erased]`."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import AccessLedger
from domain.clock import ManualClock
from domain.errors import DomainError
from domain.personal import ERASED, PREFIX, unseal
from domain.tenant.aggregate import tenant_uuid
from domain.tenant.metadata import acting
from projections.db import ReadStore
from tests.support import TENANT, Opened, actor, owner

EMAIL, NAME, WHY = "bea.bauer@acme.example", "Bea Bauer", "Umzug nach Hamburg"


def _keys(raw: ReadStore) -> set[str]:
    with raw.reader(raw=True) as tx:
        if not tx.has_table("person_keys"):
            return set()
        return {row["person"] for row in tx.all("SELECT person FROM person_keys WHERE tenant_id = ?", (TENANT,))}


def _events(ledger: AccessLedger) -> list[bytes]:
    return [bytes(e.state) for e in ledger.recorder.select_events(tenant_uuid(TENANT))]


def _add(ledger: AccessLedger, user_id: str = "bea", email: str = EMAIL, name: str = NAME) -> None:
    ledger.add_member(TENANT, owner(), user_id=user_id, email=email, name=name, role="broker")


def test_R_L6_a_new_persons_key_is_stored_with_their_events(
    opened: Opened, ledger: AccessLedger, database_url: str, clock: ManualClock, raw: ReadStore
) -> None:
    """R-L6: after a command, every envelope it stored opens in a process that never saw the key (a fresh ledger
    reading the key store), and the key row exists."""
    _add(ledger)
    ledger.remove_member(TENANT, actor("olga", reason=WHY), "bea")
    assert {"user:olga", "user:bea"} <= _keys(raw)
    assert all(EMAIL.encode() not in state and WHY.encode() not in state for state in _events(ledger))
    fresh = AccessLedger(database_url, clock)
    try:
        events = list(fresh.repository.event_store.get(tenant_uuid(TENANT)))
    finally:
        fresh.close()
    added = next(e for e in events if type(e).__name__ == "MemberAdded" and e.user_id == "bea")
    removed = next(e for e in events if type(e).__name__ == "MemberRemoved")
    assert (str(added.email), str(added.name), str(removed.caller_reason)) == (EMAIL, NAME, WHY)


def test_R_L6_a_save_that_conflicts_stores_no_key(opened: Opened, ledger: AccessLedger, raw: ReadStore) -> None:
    """R-L6 with R-X1: a save that loses a race (IntegrityError) rolls back the new person's key with its events;
    the retry then stores both."""
    stale = ledger.load(TENANT)
    _add(ledger, "ann", "ann@acme.example", "Ann")
    events, keys = _events(ledger), _keys(raw)
    with acting(ledger._context(owner())):
        stale.add_member(user_id="bea", email=EMAIL, name=NAME, role="broker", token_id="tok_x", token_hash="h")
    with pytest.raises(IntegrityError):
        ledger._save(stale)
    assert _events(ledger) == events and _keys(raw) == keys
    assert "user:bea" not in keys
    _add(ledger)
    assert "user:bea" in _keys(raw)


def test_R_L6_a_rejected_command_leaves_the_event_store_and_the_key_store_untouched(
    opened: Opened, ledger: AccessLedger, raw: ReadStore
) -> None:
    """R-X2 and R-L6: commands refused by the rules (a taken e-mail, an escalation, a full plan) record no event
    and no key, also for people never seen before."""
    _add(ledger)
    ledger.add_member(TENANT, owner(), user_id="bob", email="bob@acme.example", name="Bob", role="broker")
    _add(ledger, "cai", "cai@acme.example", "Cai")
    _add(ledger, "dov", "dov@acme.example", "Dov")
    _add(ledger, "fay", "fay@acme.example", "Fay")  # the basic plan's 5 seats are taken (the owner takes none)
    events, keys = _events(ledger), _keys(raw)
    refusals = [
        lambda: _add(ledger, "cem", EMAIL, "Cem"),  # bea's e-mail
        lambda: ledger.add_member(TENANT, actor("bob"), user_id="dan", email="d@acme.example", name="D", role="admin"),
        lambda: _add(ledger, "eve", "eve@acme.example", "Eve"),  # no seat left
    ]
    codes = []
    for refused in refusals:
        with pytest.raises(DomainError) as error:
            refused()
        codes.append(error.value.code)
    assert codes[0] == "already_member" and codes[1] in ("forbidden", "escalation") and codes[2] == "seat_limit_reached"
    assert _events(ledger) == events and _keys(raw) == keys
    assert not {"user:cem", "user:dan", "user:eve"} & keys


def test_R_L6_a_key_stored_by_another_process_is_used_not_replaced(
    opened: Opened, ledger: AccessLedger, database_url: str, clock: ManualClock, raw: ReadStore
) -> None:
    """R-L6: a second ledger (another process, its key cache empty) removing a member added by the first seals
    the reason under the member's stored key, which the first then opens."""
    _add(ledger)
    other = AccessLedger(database_url, clock)
    try:
        other.remove_member(TENANT, actor("olga", reason=WHY), "bea")
    finally:
        other.close()
    events = ledger.repository.event_store.get(tenant_uuid(TENANT))
    removed = next(e for e in events if type(e).__name__ == "MemberRemoved")
    assert str(removed.caller_reason) == WHY
    with raw.reader(raw=True) as tx:
        rows = tx.all("SELECT person FROM person_keys WHERE tenant_id = ? AND person = ?", (TENANT, "user:bea"))
    assert len(rows) == 1


def test_R_L6_an_erased_user_id_used_again_gets_a_new_key_and_the_old_values_stay_erased(
    opened: Opened, ledger: AccessLedger
) -> None:
    """R-L6: erase `bea`, then add a new member under the same user id: the old MemberAdded reads `[erased]`
    (its key is gone; the new key does not open it), the new one reads in clear."""
    _add(ledger)
    ledger.remove_member(TENANT, actor("olga", reason=WHY), "bea")
    ledger.erase_person(TENANT, owner(), user_id="bea")
    _add(ledger, "bea", "bea.neu@acme.example", "Bea Neu")
    added = [e for e in ledger.repository.event_store.get(tenant_uuid(TENANT)) if type(e).__name__ == "MemberAdded"]
    old, new = [e for e in added if e.user_id == "bea"]
    assert (str(old.email), str(old.name)) == (ERASED, ERASED)
    assert (str(new.email), str(new.name)) == ("bea.neu@acme.example", "Bea Neu")
    assert all(e.email.envelope.startswith(PREFIX) for e in (old, new))


def _emails(ledger: AccessLedger) -> list[str]:
    """Bea's e-mail in her MemberAdded and MemberRemoved, as `ledger` reads them now."""
    events = ledger.repository.event_store.get(tenant_uuid(TENANT))
    return [str(e.email) for e in events if type(e).__name__ in ("MemberAdded", "MemberRemoved") and e.user_id == "bea"]


@pytest.mark.parametrize("heard", ["count", "notify"])
def test_R_L6_R_Z1_a_cached_key_or_value_does_not_outlive_an_erasure_by_another_process(
    opened: Opened, ledger: AccessLedger, database_url: str, clock: ManualClock, heard: str
) -> None:
    """R-L6, R-Z1: this process sealed and read bea's e-mail (her key and the clear value are cached); another
    process erases her; once this one hears it (the erasure count its follower polls, or the NOTIFY naming her
    key), every read shows `[erased]`, and opening again finds no key."""
    keys = ledger.keys
    keys.notice_erasures()  # the follower's first look
    _add(ledger)
    ledger.remove_member(TENANT, actor("olga", reason=WHY), "bea")
    assert _emails(ledger) == [EMAIL, EMAIL]
    assert keys.key(TENANT, "user:bea") is not None and keys.opened
    other = AccessLedger(database_url, clock)
    try:
        other.erase_person(TENANT, owner(), user_id="bea")
    finally:
        other.close()
    if heard == "count":
        assert keys.notice_erasures()
    else:
        keys.forget(TENANT, ["user:bea"])  # what `projections.follow` does with `accessledger_erased`
    assert _emails(ledger) == [ERASED, ERASED]
    assert keys.key(TENANT, "user:bea") is None


def test_R_L6_a_value_opened_with_a_key_read_before_an_erasure_is_not_remembered(
    opened: Opened, ledger: AccessLedger
) -> None:
    """R-L6: a read that fetched bea's key just before an erasure dropped it (in another thread) answers with the
    value it opened, but does not leave it cached: the next read shows `[erased]`."""
    _add(ledger)
    events = ledger.repository.event_store.get(tenant_uuid(TENANT))
    envelope = next(e for e in events if type(e).__name__ == "MemberAdded" and e.user_id == "bea").email.envelope
    keys = ledger.keys
    keys.forget()
    generation = keys.generation  # as `open_with` reads it, before the key
    key = keys.key(TENANT, "user:bea")
    ledger.remove_member(TENANT, owner(), "bea")
    ledger.erase_person(TENANT, owner(), user_id="bea")  # lands between the key read and the remember
    keys.remember(envelope, unseal(envelope, key), generation)
    assert envelope not in keys.opened
    assert _emails(ledger) == [ERASED, ERASED]


def test_R_L6_a_key_stored_behind_this_processs_back_is_used_not_replaced(
    opened: Opened, ledger: AccessLedger, database_url: str, clock: ManualClock, raw: ReadStore
) -> None:
    """R-L6: this process knows who had keys in the tenant when it added cem (on SQLite it keeps that list instead
    of looking each new person up); another process then stores a key for zed (as a snapshot of a first-release
    member does). Adding zed here seals his data under that stored key, never a second one of its own."""
    _add(ledger, "cem", "cem@acme.example", "Cem")
    other = AccessLedger(database_url, clock)
    try:
        stored = other.keys.key(TENANT, "user:zed", create=True)
    finally:
        other.close()
    _add(ledger, "zed", "zed@acme.example", "Zed")
    assert ledger.keys.key(TENANT, "user:zed") == stored
    with raw.reader(raw=True) as tx:
        rows = tx.all("SELECT person FROM person_keys WHERE tenant_id = ? AND person = ?", (TENANT, "user:zed"))
    assert len(rows) == 1
    fresh = AccessLedger(database_url, clock)  # reads every key from the key store
    try:
        events = fresh.repository.event_store.get(tenant_uuid(TENANT))
        added = next(e for e in events if type(e).__name__ == "MemberAdded" and e.user_id == "zed")
        assert (str(added.email), str(added.name)) == ("zed@acme.example", "Zed")
    finally:
        fresh.close()
