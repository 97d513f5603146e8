"""Erasing a person (R-L6): find every key the person's data was sealed under, record `PersonErased`, destroy them.

A person is a member (or former member) by user id, or an invitee by e-mail; an invitee who accepted is one person
with two keys (the invitation's and the member's), so both go. The history is searched once, in the event store:
erasure is rare, and the event store is the only place that knows every invitation and former member.
"""

from __future__ import annotations

from typing import Any

from domain.actors import Actor, CommandResult
from domain.errors import not_found, validation
from domain.personal import MemoryKeys, person_of_invitation, person_of_user
from domain.storage import Database
from domain.tenant.aggregate import tenant_uuid


def default_keys(database: Database, env: dict[str, str]) -> Any:
    """The key store of the ledger's database (in memory for eventsourcing's in-memory store)."""
    if env.get("PERSISTENCE_MODULE", "").endswith("popo"):
        return MemoryKeys()
    # The one place the domain reaches for storage code: the key store is a table beside the events.
    from projections.keystore import KeyStore

    return KeyStore(database)


def key_recorder_env(database: Database, env: dict[str, str]) -> dict[str, str]:
    """eventsourcing's setting for the recorder that stores new persons' keys with their events (none in memory)."""
    if env.get("PERSISTENCE_MODULE", "").endswith("popo"):
        return {}
    from projections.key_recorders import recorder_topic

    topic = recorder_topic(database.kind)
    return {"APPLICATION_RECORDER_TOPIC": topic} if topic else {}


def attach_keys(recorder: Any, keys: Any) -> None:
    """Give the event store's recorder the key store whose staged keys it records with the events."""
    if hasattr(recorder, "keys") and hasattr(keys, "take_staged"):
        recorder.keys = keys


def find_person(events: Any, user_id: str | None, email: str | None) -> tuple[set[str], set[str], set[str]]:
    """(user ids, invitation ids, texts: their e-mails, names and user ids) of this person in the history."""
    users: set[str] = set()
    invitations: set[str] = set()
    emails: set[str] = {email} if email else set()
    joined: dict[str, tuple[str | None, str]] = {}
    names: dict[str, str] = {}
    sent: list[tuple[str, str]] = []
    for event in events:
        kind = type(event).__name__
        if kind == "TenantOpened":
            joined[event.owner["user_id"]] = (None, str(event.owner["email"]))
            names[event.owner["user_id"]] = str(event.owner["name"])
        elif kind == "MemberAdded":
            joined[event.user_id] = (event.invitation_id, str(event.email))
            names[event.user_id] = str(event.name)
        elif kind == "InvitationSent":
            sent.append((event.invitation_id, str(event.email)))
    if user_id is not None and user_id in joined:
        users.add(user_id)
        emails.add(joined[user_id][1])
    for member, (_, member_email) in joined.items():
        if member_email in emails:
            users.add(member)
    for member in users:
        if joined[member][0]:
            invitations.add(joined[member][0])
    invitations.update(invitation_id for invitation_id, sent_to in sent if sent_to in emails)
    emails.discard("[erased]")
    texts = emails | users | {names[u] for u in users if u in names}
    return users, invitations, texts - {"[erased]"}


def erase(app: Any, tenant_id: str, actor: Actor, *, user_id: str | None, email: str | None) -> CommandResult:
    """R-L6 for `AccessLedger.erase_person`."""
    if (user_id is None) == (email is None):
        raise validation("give exactly one of user_id and email", ("body", "user_id"))
    app.load(tenant_id)  # not_found for a tenant that does not exist
    users, invitations, texts = find_person(app.repository.event_store.get(tenant_uuid(tenant_id)), user_id, email)
    if not users and not invitations:
        raise not_found("person", user_id or email or "")
    fields = ["email", "name", "reason"] if users else ["email", "reason"]
    subject = user_id if user_id is not None else (min(users) if len(users) == 1 else None)
    result = app._run(
        tenant_id,
        actor,
        lambda t: t.erase_person(
            user_ids=sorted(users), invitation_ids=sorted(invitations), user_id=subject, fields=fields
        ),
        key="erasure_id",
    )
    persons = [person_of_user(u) for u in sorted(users)] + [person_of_invitation(i) for i in sorted(invitations)]
    app.keys.destroy(tenant_id, persons)
    # `texts` never reach an answer: the adapter uses them to delete stored answers that hold them.
    result.values.update(fields=fields, erased_at=app.clock.now(), keys=len(persons), texts=texts)
    return result
