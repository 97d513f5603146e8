"""One member's permission history in memory: interval lists searched by instant.

A check now and a check as of T are the same search with a different instant (DESIGN.md). Kinds of rows that
never overlap (a member has one role at a time) take one bisection; the others (grants) scan back from the last
row started by T and stop where every earlier row has ended, so the cost does not grow with history depth.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.history.rows import NON_OVERLAPPING
from projections.queries.decide import Holding, holding_of
from projections.values import parse_ts


@dataclass(frozen=True)
class Span:
    """A half-open interval [start, end) with what held during it; `end` None is open."""

    start: datetime
    position: int
    end: datetime | None
    value: Any

    def live(self, instant: datetime) -> bool:
        return self.start <= instant and (self.end is None or self.end > instant)


def _start(span: Span) -> datetime:
    return span.start


def latest(spans: list[Span], instant: datetime) -> Span | None:
    """The span valid at `instant` in a list of non-overlapping spans sorted by (start, position)."""
    i = bisect_right(spans, instant, key=_start)
    if i and spans[i - 1].live(instant):
        return spans[i - 1]
    return None


class Overlapping:
    """Spans that may overlap, with the running maximum of their ends to stop a backward scan early."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans
        self.reach: list[datetime | None] = []  # latest end among spans[0..k]; None: one is still open
        furthest: datetime | None = spans[0].end if spans else None
        for span in spans:
            if furthest is not None and (span.end is None or span.end > furthest):
                furthest = span.end
            self.reach.append(furthest)

    def at(self, instant: datetime) -> list[Span]:
        out = []
        k = bisect_right(self.spans, instant, key=_start) - 1
        while k >= 0:
            reach = self.reach[k]
            if reach is not None and reach <= instant:
                break  # every span up to k ended by `instant`
            if self.spans[k].live(instant):
                out.append(self.spans[k])
            k -= 1
        return out


def _end(row: dict[str, Any]) -> datetime | None:
    """Where a history row stops giving: its close, or the grant's expiry if that comes first."""
    ends = [parse_ts(t) for t in (row["valid_to"], row["expires_at"]) if t is not None]
    return min(ends) if ends else None


class MemberHistory:
    """Every role interval and permission row of one member (all their memberships)."""

    def __init__(self, roles: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        self.roles = [
            Span(parse_ts(r["valid_from"]), r["from_position"], parse_ts(r["valid_to"]) if r["valid_to"] else None, r)
            for r in roles
        ]
        grouped: dict[tuple[str, str], list[Span]] = {}
        for row in rows:
            span = Span(parse_ts(row["valid_from"]), row["from_position"], _end(row), holding_of(row))
            grouped.setdefault((row["permission"], row["source_kind"]), []).append(span)
        self.single: dict[str, list[list[Span]]] = {}
        self.overlapping: dict[str, list[Overlapping]] = {}
        for (permission, kind), spans in grouped.items():
            spans.sort(key=lambda s: (s.start, s.position))
            if kind in NON_OVERLAPPING:
                self.single.setdefault(permission, []).append(spans)
            else:
                self.overlapping.setdefault(permission, []).append(Overlapping(spans))

    def role_at(self, instant: datetime) -> str | None:
        """The member's role at `instant`, None if they were not a member then."""
        span = latest(self.roles, instant)
        return None if span is None else span.value["role"]

    def holdings_at(self, permission: str, instant: datetime) -> list[Holding]:
        """Every source giving `permission` at `instant`."""
        out: list[Holding] = []
        for spans in self.single.get(permission, ()):
            span = latest(spans, instant)
            if span is not None:
                out.append(span.value)
        for group in self.overlapping.get(permission, ()):
            out.extend(span.value for span in group.at(instant))
        return out


class Assignments:
    """One resource's assignment intervals (R-A1: one member at a time)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.spans = [
            Span(
                parse_ts(r["assigned_at"]),
                r["from_position"],
                parse_ts(r["unassigned_at"]) if r["unassigned_at"] else None,
                r["user_id"],
            )
            for r in rows
        ]

    def assignee_at(self, instant: datetime) -> str | None:
        span = latest(self.spans, instant)
        return None if span is None else span.value


class Chains:
    """One node's closure intervals from the directory (`dir_reporting` or `dir_parents` rows): the set of nodes
    above it at any instant, found by one bisection however deep the tree (R-H1, R-H2)."""

    def __init__(self, rows: list[dict[str, Any]], column: str, start: frozenset = frozenset()) -> None:
        self.spans = [
            Span(
                parse_ts(r["valid_from"]),
                r["from_position"],
                parse_ts(r["valid_to"]) if r["valid_to"] else None,
                start | frozenset(_node(link) for link in json.loads(r[column])),
            )
            for r in rows
        ]
        self.start = start

    def above_at(self, instant: datetime) -> frozenset:
        """The nodes above at `instant` (with `start`, the node itself, added)."""
        span = latest(self.spans, instant)
        return self.start if span is None else span.value


def _node(link: Any) -> Any:
    return link if isinstance(link, str) else (link["type"], link["id"])
