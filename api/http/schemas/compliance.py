"""Request and answer bodies of the compliance routes: what-if, assertions and erasures (R-R3, R-R4, R-L6).

The command line validates its files with the same models, so a file and a request body mean the same thing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from api.http.schemas.requests import Body, Email, Instant, Permission, ResourceRef, RoleId, RoleIn, UserId
from api.http.schemas.resources import Out, ResourceOut

Reason = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]


class CatalogIn(Body):
    """A changed catalog of custom roles: added or redefined (`roles`), removed (`removed_roles`)."""

    roles: list[RoleIn] = Field(default_factory=list, max_length=500)
    removed_roles: list[RoleId] = Field(default_factory=list, max_length=500)


class WhatIfIn(CatalogIn):
    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")


class UserAssertion(Body):
    """The user may (`allow`) or may not (`deny`) do it at `at`."""

    user_id: UserId
    permission: Permission
    resource: ResourceRef | None = None
    at: Instant | None = None
    expect: Literal["allow", "deny"]


class RoleAssertion(Body):
    """No member whose role is `role` may do it."""

    role: RoleId
    permission: Permission
    resource: ResourceRef | None = None
    at: Instant | None = None
    expect: Literal["deny"]


class CountAssertion(Body):
    """At most `at_most` members may do it."""

    permission: Permission
    resource: ResourceRef | None = None
    at: Instant | None = None
    at_most: StrictInt = Field(ge=0, le=1_000_000)


Assertion = UserAssertion | RoleAssertion | CountAssertion


class AssertionsIn(CatalogIn):
    assertions: list[Assertion] = Field(max_length=10_000)
    as_of: Instant | None = None


class ErasureIn(Body):
    user_id: UserId | None = None
    email: Email | None = None
    reason: Reason


class WhatIfChange(Out):
    user_id: str
    permission: str
    scope: Literal["all", "team", "assigned", "resource"]
    resource: ResourceOut | None = None
    effect: Literal["gained", "lost"]
    from_: str = Field(alias="from")
    until: str


class WhatIfOut(Out):
    from_: str = Field(alias="from")
    to: str
    changes: list[WhatIfChange]


class FailedAssertion(Out):
    assertion: dict
    actual: dict


class AssertionsOut(Out):
    passed: bool = Field(description="True when every assertion held.")
    checked: int = Field(description="How many assertions were checked.")
    failed: list[FailedAssertion]


class Erasure(Out):
    erasure_id: str
    erased_at: str
    fields: list[str]


class ErasureOut(Out):
    erasure: Erasure
    position: int | None
