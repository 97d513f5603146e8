"""Answers of the routes integrating programs use besides checks: lookups (R-C4) and the change feed (R-C5)."""

from __future__ import annotations

from typing import Literal

from api.http.schemas.resources import Out, ResourceOut, Via


class ResourceAccess(Out):
    """A resource the member may act on, the widest scope that covers it and why (as `check` says)."""

    resource: ResourceOut
    scope: str | None
    via: list[Via]


class SubjectAccess(Out):
    """A member who may act on the resource, their role, the widest scope that covers it and why."""

    user_id: str
    role: str
    scope: str | None
    via: list[Via]


class ResourceLookup(Out):
    all: bool
    items: list[ResourceAccess]
    next_cursor: str | None
    as_of: str | None
    position: int


class SubjectLookup(Out):
    items: list[SubjectAccess]
    next_cursor: str | None
    as_of: str | None
    position: int


class Change(Out):
    """One change of effective access (R-C5), at the position and index of the event that caused it."""

    position: int
    index: int
    occurred_at: str
    event_type: str
    user_id: str
    permission: str
    scope: str
    resource: ResourceOut | None
    effect: Literal["gained", "lost"]


class ChangePage(Out):
    items: list[Change]
    next_after: int
