"""Stored events to domain events for the projections, at C speed where it can be (issue 17: decoding was a quarter
of a rebuild's time).

The application's mapper parses with Python's json and an object hook per dict, then opens every personal envelope
(AES-GCM, R-L6). Projections never need the clear text: every read model stores the envelope (the directory's
columns, the audit trail's `data` and its hashes of digests). So this decoder parses with orjson, revives
eventsourcing's transcoded values (`{"_type_": …, "_data_": …}`) with the application's own transcodings, and leaves
personal values as their envelopes (plain `str`): a read model written from these events is byte for byte the one
written from the mapper's (tests/projections/test_decoding.py). Anything it cannot read the same way (a cipher or a
compressor configured, JSON orjson refuses) goes through the mapper.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, find_id_convertor
from eventsourcing.utils import resolve_topic

_CONTAINERS = (dict, list)


class ProjectionDecoder:
    """Decodes stored events as the application's mapper does, but for personal values (left sealed)."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = (
            isinstance(transcoder, JSONTranscoder)
            and not getattr(mapper, "cipher", None)
            and not getattr(mapper, "compressor", None)
        )
        self.names = transcoder.names if self.fast else {}
        # topic -> (class, originator id convertor by id type, class version)
        self._classes: dict[str, tuple[type, dict[type, Callable[[Any], Any]], int]] = {}

    def event(self, originator_id: Any, originator_version: int, topic: str, state: bytes) -> Any:
        """The domain event of one stored event."""
        if not self.fast:
            return self.mapper.to_domain_event(_Stored(originator_id, originator_version, topic, state))
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (cls, {}, getattr(cls, "class_version", 1))
        cls, convertors, class_version = known
        try:
            event_state = self._revive_top(orjson.loads(state), state.count(b'"_type_"'))
        except (orjson.JSONDecodeError, TypeError):  # e.g. NaN or a huge integer: json reads what orjson refuses
            event_state = self.mapper.transcoder.decode(state)
        id_type = type(originator_id)
        convert = convertors.get(id_type)
        if convert is None:
            convert = convertors[id_type] = find_id_convertor(cls, id_type)
        event_state["originator_id"] = convert(originator_id)
        event_state["originator_version"] = originator_version
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", event_state)
        return event

    def _revive_top(self, state: dict[str, Any], transcoded: int) -> Any:
        """The event's state with its transcoded values decoded. Most events hold transcoded values only at the
        top level (their instants): once the top level has as many as the raw JSON names (`transcoded`), nothing
        below it needs a walk (an assignment's list of ids, a plan)."""
        if type(state) is not dict:
            return self._revive(state)
        names = self.names
        found = 0
        for key, item in state.items():
            if type(item) is dict and len(item) == 2 and "_type_" in item and type(item.get("_data_")) is str:
                state[key] = names[item["_type_"]].decode(item["_data_"])
                found += 1
        if found == transcoded:
            return state
        return self._revive(state)

    def _revive(self, value: Any) -> Any:
        """Transcoded values decoded innermost first, as the json object hook does. A transcoded scalar (a datetime,
        a date, a UUID: most of what events hold) is decoded at once, without a call per level."""
        names = self.names
        if type(value) is dict:
            for key, item in value.items():
                kind = type(item)
                if kind is dict:
                    if len(item) == 2 and "_type_" in item and type(item.get("_data_")) is str:
                        value[key] = names[item["_type_"]].decode(item["_data_"])
                    else:
                        value[key] = self._revive(item)
                elif kind is list:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return names[value["_type_"]].decode(value["_data_"])
            return value
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS:
                value[index] = self._revive(item)
        return value


class _Stored:
    """The four fields the mapper reads of a stored event."""

    __slots__ = ("originator_id", "originator_version", "state", "topic")

    def __init__(self, originator_id: Any, originator_version: int, topic: str, state: bytes) -> None:
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.topic = topic
        self.state = state


_decoders: weakref.WeakKeyDictionary[Any, ProjectionDecoder] = weakref.WeakKeyDictionary()


def decoder_of(app: Any) -> ProjectionDecoder:
    """The application's projection decoder (one per mapper)."""
    mapper = app.mapper
    found = _decoders.get(mapper)
    if found is None:
        found = _decoders[mapper] = ProjectionDecoder(mapper)
    return found
