"""The application service: one public method per command (load, apply due changes, run, save, retry)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper

from domain import billing
from domain.access_commands import AccessCommands
from domain.actors import Actor, CommandResult
from domain.clock import Clock, SystemClock
from domain.codec import DataclassAsDict, DateAsISO
from domain.due import apply_due_changes, scheduled_removals
from domain.effect import AccessBefore, check_effect
from domain.erasure import attach_keys, default_keys, key_recorder_env
from domain.errors import DomainError, not_found, validation
from domain.personal import KeyProvider
from domain.personal_mapper import PersonalDataMapper
from domain.storage import Database, parse_database_url
from domain.tenant import keys
from domain.tenant.aggregate import Tenant, tenant_uuid
from domain.tenant.keys import AlreadyRecorded, outcome_of
from domain.tenant.legacy_topics import register_legacy_topics
from domain.tenant.metadata import OPERATOR, EventContext, acting
from domain.tenant.records import STATE_CLASSES
from domain.tokens import (  # noqa: F401 - re-exported: adapters import them from here
    INVITATION_TOKEN_PREFIX,
    hash_token,
    new_invitation_token,
    new_token,
    new_token_id,
    tenant_of_invitation_token,
)

T = TypeVar("T")
MAX_ATTEMPTS = 12
SNAPSHOT_INTERVAL = 100


def project_tenant(tenant: Tenant | None, events: Any) -> Tenant | None:
    """eventsourcing's `project_aggregate` without its per-event `isinstance(event, CanMutateProtocol)` assertion:
    on Python 3.11 a runtime Protocol check walks the protocol's attributes every time (~40 µs), which made it the
    largest single cost of loading a tenant (issue 17's command profile). Every stored event is a TenantEvent."""
    for event in events:
        tenant = event.mutate(tenant)
    return tenant


class AccessLedger(AccessCommands, Application):
    """The ledger of every tenant's history, on SQLite or PostgreSQL."""

    name = "accessledger"
    snapshotting_intervals = {Tenant: SNAPSHOT_INTERVAL}  # noqa: RUF012
    snapshotting_projectors = {Tenant: project_tenant}  # noqa: RUF012 - see project_tenant

    def __init__(
        self,
        database_url: str | None = None,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
        keys: KeyProvider | None = None,
    ) -> None:
        self.database: Database = parse_database_url(database_url)
        self.clock: Clock = clock or SystemClock()
        environment = {**self.database.eventsourcing_env(), **(env or {})}
        self._own_keys = keys is None
        # Personal fields are sealed under per-person keys (R-L6); the composition root shares its key store.
        self.keys = keys if keys is not None else default_keys(self.database, environment)
        # New persons' keys are stored in the transaction that records their events (issue 15).
        environment = {**key_recorder_env(self.database, environment), **environment}
        register_legacy_topics()  # stores written before the tenant modules moved still load
        super().__init__(env=environment)
        attach_keys(self.recorder, self.keys)

    def construct_mapper(self) -> Mapper:
        mapper = self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=PersonalDataMapper)
        mapper.keys = self.keys
        return mapper

    def close(self) -> None:
        super().close()
        if self._own_keys:
            self.keys.close()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        for cls in STATE_CLASSES:
            transcoder.register(DataclassAsDict(cls))

    # ----------------------------------------------------------------- the command loop

    def load(self, tenant_id: str) -> Tenant:
        """The tenant as recorded (snapshot plus newer events); `not_found` if it was never opened."""
        try:
            return self.repository.get(tenant_uuid(tenant_id), projector_func=project_tenant)
        except AggregateNotFoundError:
            raise not_found("tenant", tenant_id) from None

    def execute(
        self, tenant_id: str, actor: Actor, command: Callable[[Tenant], T], judged: bool = True
    ) -> tuple[T, int | None]:
        """Load, apply due changes, run `command`, judge its effect (R-P10), save; retry on a concurrent write
        (R-X1). `judged=False` only for accepting an invitation, whose gain was judged when it was sent."""
        for attempt in range(MAX_ATTEMPTS):
            tenant = self.load(tenant_id)
            versions = keys.recorded(tenant, actor.idempotency_key)
            if versions is not None:
                raise AlreadyRecorded(tenant_id, versions)
            context = self._context(actor)
            apply_due_changes(tenant, context.occurred_at, context)
            before = AccessBefore.capture(tenant) if judged else None
            with acting(context):
                result = command(tenant)
            if before is not None:
                check_effect(before, tenant, actor.user_id)
            try:
                return result, self._save(tenant)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.005 * (2 ** min(attempt, 6))))
        raise DomainError("conflict", "the tenant kept changing under this command; nothing was recorded")

    def _save(self, tenant: Tenant) -> int | None:
        if not tenant.pending_events:
            return None
        discard = getattr(self.keys, "discard_staged", None)
        try:
            recordings = self.save(tenant)
        except BaseException:
            if discard is not None:
                discard()  # keys staged for events that were not recorded are not stored either
            raise
        return recordings[-1].notification.id if recordings else None

    def _context(self, actor: Actor) -> EventContext:
        return EventContext(
            actor=actor.user_id,
            occurred_at=self.clock.now(),
            request_id=actor.request_id,
            reason=actor.reason,
            idempotency_key=actor.idempotency_key,
        )

    def head_position(self) -> int:
        """The global position of the newest event (0 for an empty store)."""
        return self.recorder.max_notification_id() or 0

    # ----------------------------------------------------------------- tenants (R-T1…R-T5)

    def open_tenant(
        self,
        actor: Actor,
        *,
        tenant_id: str,
        name: str,
        plan: dict[str, Any],
        owner: dict[str, str],
        min_admins: int = 1,
    ) -> CommandResult:
        """R-T1: only the operator opens tenants; answers the owner's token once."""
        if actor.user_id != OPERATOR:
            raise DomainError("forbidden", "only the operator opens tenants")
        context = self._context(actor)
        term_start = plan.get("term_start") or context.occurred_at.date()
        term_end = plan.get("term_end") or billing.default_term_end(term_start, plan["billing_interval"])
        if min_admins < 1:
            raise validation("min_admins must be at least 1", ("body", "min_admins"))
        token = new_token()
        token_id = new_token_id()
        with acting(context):
            tenant = Tenant.open(
                tenant_id=tenant_id,
                name=name,
                plan={k: plan[k] for k in ("name", "included_seats", "billing_interval", "currency")},
                term_start=term_start,
                term_end=term_end,
                owner=dict(owner),
                min_admins=min_admins,
                owner_token_id=token_id,
                owner_token_hash=hash_token(token),
            )
            apply_due_changes(tenant, context.occurred_at, context)
        try:
            position = self._save(tenant)
        except IntegrityError:
            versions = keys.recorded(self.load(tenant_id), actor.idempotency_key)
            if versions is not None and versions[0] == 1:  # this very request opened it before (R-X3)
                return self.recovered(tenant_id, versions)
            raise DomainError("tenant_exists", f"tenant {tenant_id!r} already exists") from None
        return CommandResult(position, {"owner_token": token, "owner_token_id": token_id})

    def change_policy(self, tenant_id: str, actor: Actor, min_admins: int) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.change_policy(min_admins))

    def cancel_subscription(self, tenant_id: str, actor: Actor) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.cancel_subscription())

    def withdraw_cancellation(self, tenant_id: str, actor: Actor) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.withdraw_cancellation())

    # ----------------------------------------------------------------- members and tokens

    def add_member(
        self, tenant_id: str, actor: Actor, *, user_id: str, email: str, name: str, role: str
    ) -> CommandResult:
        token = new_token()
        token_id = new_token_id()
        result = self._run(
            tenant_id,
            actor,
            lambda t: t.add_member(
                user_id=user_id,
                email=email,
                name=name,
                role=role,
                token_id=token_id,
                token_hash=hash_token(token),
            ),
        )
        _fresh(result, token=token, token_id=token_id)
        return result

    def change_role(self, tenant_id: str, actor: Actor, user_id: str, role: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.change_role(user_id, role))

    def remove_member(self, tenant_id: str, actor: Actor, user_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.remove_member(user_id))

    def issue_token(self, tenant_id: str, actor: Actor, label: str | None = None) -> CommandResult:
        token = new_token()
        token_id = new_token_id()
        result = self._run(tenant_id, actor, lambda t: t.issue_token(token_id, hash_token(token), label))
        _fresh(result, token=token, token_id=token_id)
        return result

    def issue_owner_token(self, tenant_id: str, actor: Actor, label: str | None = None) -> CommandResult:
        """R-T6: owner recovery by the operator; the new token is in the answer, once."""
        token = new_token()
        token_id = new_token_id()
        result = self._run(tenant_id, actor, lambda t: t.issue_owner_token(token_id, hash_token(token), label))
        _fresh(result, token=token, token_id=token_id)
        return result

    def revoke_token(self, tenant_id: str, actor: Actor, token_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.revoke_token(token_id))

    # ----------------------------------------------------------------- invitations

    def invite(self, tenant_id: str, actor: Actor, *, email: str, role: str) -> CommandResult:
        token = new_invitation_token(tenant_id)
        result = self._run(
            tenant_id,
            actor,
            lambda t: t.invite(email=email, role=role, token_hash=hash_token(token)),
            key="invitation_id",
        )
        _fresh(result, token=token)
        return result

    def revoke_invitation(self, tenant_id: str, actor: Actor, invitation_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.revoke_invitation(invitation_id))

    def resend_invitation(self, tenant_id: str, actor: Actor, invitation_id: str) -> CommandResult:
        token = new_invitation_token(tenant_id)
        result = self._run(
            tenant_id,
            actor,
            lambda t: t.resend_invitation(invitation_id, hash_token(token)),
        )
        _fresh(result, token=token)
        return result

    def accept_invitation(self, actor: Actor, *, token: str, user_id: str, name: str) -> CommandResult:
        """R-I2: the invitee becomes a member with its own API token; the acting user is the new member."""
        tenant_id = tenant_of_invitation_token(token)
        member_token = new_token()
        token_id = new_token_id()
        invitee = Actor(user_id, actor.request_id, actor.reason, actor.idempotency_key)
        result = self._run(
            tenant_id,
            invitee,
            lambda t: (
                t.accept_invitation(
                    token_hash=hash_token(token),
                    user_id=user_id,
                    name=name,
                    token_id=token_id,
                    member_token_hash=hash_token(member_token),
                ).user_id
            ),
            key="user_id",
            judged=False,
        )
        result.values["tenant_id"] = tenant_id
        _fresh(result, token=member_token, token_id=token_id)
        return result

    def decline_invitation(self, actor: Actor, *, token: str) -> CommandResult:
        tenant_id = tenant_of_invitation_token(token)
        invitee = Actor("invitee", actor.request_id, actor.reason, actor.idempotency_key)
        result = self._run(tenant_id, invitee, lambda t: t.decline_invitation(hash_token(token)))
        result.values["tenant_id"] = tenant_id
        return result

    # ----------------------------------------------------------------- add-ons

    def purchase_addon(self, tenant_id: str, actor: Actor, kind: str) -> CommandResult:
        """R-S2: values `addon_id` and `charge` ({amount, currency}), the prorated charge the purchase recorded."""
        try:
            purchased, position = self.execute(tenant_id, actor, lambda t: t.purchase_addon(kind))
        except AlreadyRecorded as recorded:  # a retry of a purchase recorded before a crash (R-X3)
            return self.recovered(tenant_id, recorded.versions)
        return CommandResult(position, purchased)

    def cancel_addon(self, tenant_id: str, actor: Actor, addon_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.cancel_addon(addon_id))

    def withdraw_addon_cancellation(self, tenant_id: str, actor: Actor, addon_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.withdraw_addon_cancellation(addon_id))

    # ----------------------------------------------------------------- time (R-K1)

    def apply_due(self, tenant_id: str, actor: Actor | None = None) -> CommandResult:
        """Record every change due by now on one tenant."""
        return self._run(tenant_id, actor or Actor("system"), lambda t: None)

    def sweep(self, tenant_ids: list[str]) -> int:
        """Apply due changes on each given tenant; returns how many tenants recorded something."""
        changed = 0
        for tenant_id in tenant_ids:
            if self.apply_due(tenant_id).position is not None:
                changed += 1
        return changed

    def removals_scheduled(self, tenant_id: str) -> list[dict[str, Any]]:
        """R-S5 for the tenant as recorded now (due changes included)."""
        tenant = self.load(tenant_id)
        now = self.clock.now()
        apply_due_changes(tenant, now, EventContext(actor="system", occurred_at=now))
        return scheduled_removals(tenant)

    def recovered(self, tenant_id: str, versions: tuple[int, int]) -> CommandResult:
        """The outcome of a command recorded earlier under its idempotency key, rebuilt from its events (R-X3)."""
        events = self.repository.event_store.get(tenant_uuid(tenant_id), gt=versions[0] - 1, lte=versions[1])
        return CommandResult(None, outcome_of(list(events)), recorded_versions=versions)

    def _run(
        self,
        tenant_id: str,
        actor: Actor,
        command: Callable[[Tenant], Any],
        key: str | None = None,
        judged: bool = True,
    ) -> CommandResult:
        try:
            value, position = self.execute(tenant_id, actor, command, judged)
        except AlreadyRecorded as recorded:
            return self.recovered(tenant_id, recorded.versions)
        values = {key: value} if key else {}
        return CommandResult(position, values)


def _fresh(result: CommandResult, **values: Any) -> None:
    """Add what only a command that ran now knows (its new secrets); a recovered outcome keeps them None."""
    if not result.recovered:
        result.values.update(values)
