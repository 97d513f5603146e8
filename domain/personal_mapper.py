"""The event store's mapper with personal fields sealed per person (R-L6).

Which fields are personal, and whose: the e-mail and name of a member (`user:<user_id>`) or of an invitee
(`inv:<invitation_id>`, until they accept), and the caller's reason of an event about that person. Snapshots seal
the members' and invitations' e-mails and names the same way. Reading opens each envelope with the person's key,
or gives `[erased]` when the key was destroyed. Nothing else about an event changes, so ids, positions and every
audit hash (which covers digests, not values) stay what they were.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent

from domain.errors import validation
from domain.personal import (
    PREFIX,
    KeyProvider,
    PersonalText,
    is_envelope,
    open_with,
    parts,
    person_of_invitation,
    person_of_user,
    seal,
)

# Event type → (personal fields, whose: "user" or "invitation").
_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "MemberAdded": (("email", "name"), "user"),
    "MemberRemoved": (("email",), "user"),
    "InvitationSent": (("email",), "invitation"),
    "InvitationResent": (("email",), "invitation"),
    "InvitationAccepted": (("email",), "invitation"),
    "InvitationDeclined": (("email",), "invitation"),
    "InvitationRevoked": (("email",), "invitation"),
    "InvitationExpired": (("email",), "invitation"),
}
_MARK = PREFIX.encode()
_OPENING = b'"' + _MARK  # how any JSON string (or key) that starts with the prefix is written
# Event type → the fields that may hold an envelope: exactly what `_seal_event` seals, so reading looks at those
# only instead of testing every field of every event (issue 15: that scan was most of sealing's read cost).
_SEALED: dict[str, tuple[str, ...]] = {name: (*fields, "caller_reason") for name, (fields, _) in _FIELDS.items()}
_SEALED["TenantOpened"] = ("owner", "caller_reason")
_REASON = ("caller_reason",)  # any other event about a person seals its reason only
# Events whose reason is about the erasure itself, never about the person's own data.
_CLEAR_REASON = frozenset({"PersonErased"})


def _person(state: dict[str, Any], whose: str) -> str | None:
    if whose == "invitation" and state.get("invitation_id"):
        return person_of_invitation(state["invitation_id"])
    user_id = state.get("user_id")
    return person_of_user(user_id) if user_id else None


class PersonalDataMapper(Mapper):
    """eventsourcing's Mapper, sealing personal fields on the way in and opening them on the way out."""

    keys: KeyProvider | None = None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        keys = self.keys
        name = type(domain_event).__name__
        original = domain_event.__dict__
        state = dict(original)
        tenant_id = state.get("tenant_id")
        envelopes: list[str] = []
        if keys is not None and name == "Snapshot":
            state["state"] = self._seal_snapshot(keys, dict(state["state"]))
        elif keys is not None and tenant_id:
            self._seal_event(keys, name, tenant_id, state, envelopes)
        if state == original:
            stored = super().to_stored_event(domain_event)
        else:
            # Map a shallow copy so the event in memory (and the aggregate that applied it) keeps its clear values.
            sealed = object.__new__(type(domain_event))
            object.__setattr__(sealed, "__dict__", state)
            stored = super().to_stored_event(sealed)
        if name != "Snapshot":  # a snapshot holds only what recorded events held
            self._refuse_reserved_text(stored, state, envelopes)
        return stored

    def _refuse_reserved_text(self, stored: StoredEvent, state: dict[str, Any], envelopes: list[str]) -> None:
        """R-L6: text a caller wrote may not start with PREFIX, or a reader would take it for an envelope. Each
        string (or key) that starts with it is written `"pd1:`, so counting those in the stored bytes (C speed)
        against the envelopes sealed here clears nearly every event; only a mismatch walks the state."""
        raw = stored.state
        if self.compressor is not None or self.cipher is not None:
            raw = self.transcoder.encode(state)
        if raw.count(_OPENING) == len(envelopes):
            return
        path = _reserved_path(json.loads(raw), set(envelopes))
        if path is not None:
            detail = (
                f"{_field_name(path)} may not begin with {PREFIX!r}: that prefix is reserved for sealed personal data"
            )
            raise validation(detail, _location(path))

    def _seal_value(
        self,
        keys: KeyProvider,
        tenant_id: str,
        person: str,
        value: Any,
        envelopes: list[str] | None = None,
    ) -> Any:
        """The envelope to store for `value`, listed in an event's `envelopes` (None: a snapshot's value, whose new
        key is stored at once instead of staged)."""
        if not isinstance(value, str):
            return value
        if isinstance(value, PersonalText) and (value.erased or parts(value.envelope)[:2] == (tenant_id, person)):
            if envelopes is not None:
                envelopes.append(value.envelope)
            return value.envelope  # read back and stored again for the same person: the same envelope
        if type(value) is str and value.startswith(PREFIX):
            # Stored as it stands, never as if it were sealed: an event holding it is refused, an old store's text
            # stays clear text in a snapshot.
            return value
        event = envelopes is not None
        stage = getattr(keys, "stage", None) if event else None
        generation = keys.generation
        # An event's new key is staged: the recorder stores it in the transaction that records the event.
        key = stage(tenant_id, person) if stage is not None else keys.key(tenant_id, person, create=True)
        assert key is not None
        sealed = seal(key, tenant_id, person, str(value))
        # The next command reloads this event: it reads the text it sealed instead of decrypting it again.
        keys.remember(sealed.envelope, sealed, generation)
        if envelopes is not None:
            envelopes.append(sealed.envelope)
        return sealed.envelope

    def _seal_event(
        self, keys: KeyProvider, name: str, tenant_id: str, state: dict[str, Any], envelopes: list[str]
    ) -> None:
        """Seal the event's personal fields in `state`, listing in `envelopes` each envelope written."""
        if name == "TenantOpened":
            owner = dict(state["owner"])
            person = person_of_user(owner["user_id"])
            for field in ("email", "name"):
                owner[field] = self._seal_value(keys, tenant_id, person, owner[field], envelopes)
            state["owner"] = owner
        fields, whose = _FIELDS.get(name, ((), "user"))
        person = _person(state, whose)
        if person is not None:
            for field in fields:
                state[field] = self._seal_value(keys, tenant_id, person, state[field], envelopes)
        reason_person = person_of_user(state["user_id"]) if state.get("user_id") else person
        if state.get("caller_reason") and reason_person is not None and name not in _CLEAR_REASON:
            state["caller_reason"] = self._seal_value(keys, tenant_id, reason_person, state["caller_reason"], envelopes)

    def _seal_snapshot(self, keys: KeyProvider, state: dict[str, Any]) -> dict[str, Any]:
        tenant_id = state.get("tenant_id")
        if not tenant_id:
            return state
        members = {}
        for user_id, member in (state.get("members") or {}).items():
            person = person_of_user(user_id)
            members[user_id] = dataclasses.replace(
                member,
                email=self._seal_value(keys, tenant_id, person, member.email),
                name=self._seal_value(keys, tenant_id, person, member.name),
            )
        invitations = {}
        for invitation_id, invitation in (state.get("invitations") or {}).items():
            person = person_of_invitation(invitation_id)
            invitations[invitation_id] = dataclasses.replace(
                invitation, email=self._seal_value(keys, tenant_id, person, invitation.email)
            )
        state["members"], state["invitations"] = members, invitations
        return state

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        keys = self.keys
        if keys is None:
            return event
        state = event.__dict__
        name = type(event).__name__
        if name == "Snapshot":
            if _MARK in stored_event.state:
                inner = state["state"]
                for record in [*(inner.get("members") or {}).values(), *(inner.get("invitations") or {}).values()]:
                    for field in ("email", "name"):
                        value = getattr(record, field, None)
                        if value is not None:
                            setattr(record, field, self._opened(value))
            return event
        # Only the few fields `_seal_event` seals can hold an envelope: looking at them is cheaper than searching the
        # stored bytes for one, and a value opened before is one look-up (issue 15: a command reloads ~50 events).
        for field in _SEALED.get(name, _REASON):
            value = state.get(field)
            if field == "owner" and isinstance(value, dict):
                state[field] = {k: self._opened(v) for k, v in value.items()}
            elif value is not None:
                state[field] = self._opened(value)
        return event

    def _opened(self, value: Any) -> Any:
        """A stored value read back: the value opened before (one look-up, no shape check: a snapshot holds every
        member's e-mail and name), else the envelope opened, else the value as stored (anything without the prefix,
        and clear text that merely starts with it: an old store's)."""
        if type(value) is not str or not value.startswith(PREFIX):
            return value
        known = self.keys.opened.get(value) if self.keys is not None else None
        if known is not None:
            return known
        return self.open(value) if is_envelope(value) else value

    def open(self, envelope: str) -> PersonalText:
        """The value of an envelope (`[erased]` when the person's key is gone)."""
        return open_with(self.keys, envelope)


def _reserved_path(value: Any, envelopes: set[str], path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path of the first string or key in a JSON value that starts with PREFIX and is none of `envelopes`."""
    if isinstance(value, str):
        return path if value.startswith(PREFIX) and value not in envelopes else None
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith(PREFIX):
                return (*path, key)
            found = _reserved_path(item, envelopes, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _reserved_path(item, envelopes, (*path, str(index)))
            if found is not None:
                return found
    return None


def _caller_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """A stored field's path as the caller wrote it: transcodings' wrappers dropped."""
    return tuple(name for name in path if name not in ("_type_", "_data_"))


def _field_name(path: tuple[str, ...]) -> str:
    """A stored field as the caller named it: the reason is the X-Reason header."""
    names = _caller_path(path)
    if names[:1] == ("caller_reason",):
        return "the reason"
    return ".".join(names) or "a key"


def _location(path: tuple[str, ...]) -> tuple[str, ...]:
    names = _caller_path(path)
    if names[:1] == ("caller_reason",):
        return ("header", "X-Reason")
    return ("body", *names)
