"""The projections' decoder (issue 17) reads every stored event as the application's mapper does, but for personal
values, which it leaves sealed: each is the envelope the mapper's `PersonalText` carries (R-L6). Read models
written from either are therefore the same (R-R1: test_rebuild compares them row for row)."""

from __future__ import annotations

from typing import Any

from domain.personal import PersonalText, is_envelope
from projections.decoding import ProjectionDecoder
from tests.projections.random_history import RandomHistory


def _stored(value: Any) -> Any:
    """What a read model stores of a value: a personal value's envelope."""
    if isinstance(value, PersonalText):
        return value.envelope
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_stored(v) for v in value)
    return value


def _sealed(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_sealed(v) for v in value.values())
    return is_envelope(value) and not isinstance(value, PersonalText)


def test_R_R1_the_projection_decoder_reads_every_event_as_the_mapper_stores_it(ledger, clock):
    driver = RandomHistory(ledger, clock, seed=7, tenants=3)
    for _ in range(200):
        driver.step()
    decoder = ProjectionDecoder(ledger.mapper)
    assert decoder.fast  # the orjson path, not the mapper behind it
    notifications = ledger.recorder.select_notifications(start=1, limit=100_000)
    assert len(notifications) > 100
    sealed = 0
    for notification in notifications:
        expected = ledger.mapper.to_domain_event(notification)
        event = decoder.event(
            notification.originator_id, notification.originator_version, notification.topic, notification.state
        )
        assert type(event) is type(expected)
        assert event.__dict__ == _stored(expected.__dict__), notification.id
        # Same types too (a datetime stays a datetime, a date a date), not just equal values.
        assert {k: type(v) for k, v in event.__dict__.items() if not isinstance(v, str)} == {
            k: type(v) for k, v in expected.__dict__.items() if not isinstance(v, str)
        }
        sealed += any(_sealed(v) for v in event.__dict__.values())
    assert sealed > 0  # personal values were there to leave sealed


def test_R_R1_the_projection_decoder_falls_back_to_the_mapper_for_json_orjson_refuses(ledger, clock):
    """Python's json reads NaN, orjson does not: such a state is read by the transcoder, not refused."""
    driver = RandomHistory(ledger, clock, seed=3, tenants=1)
    driver.step()
    notification = ledger.recorder.select_notifications(start=1, limit=1)[0]
    state = notification.state[:-1] + b',"extra":NaN}'
    event = ProjectionDecoder(ledger.mapper).event(
        notification.originator_id, notification.originator_version, notification.topic, state
    )
    assert event.extra != event.extra  # NaN
    assert event.originator_version == notification.originator_version
