"""The demo's daily lead traffic: new leads assigned in bulk, finished ones closed, orphans handed back.

Lead L-17 has a story of its own: it never closes, goes to Jonas first and, once its holder is removed, to Marie
(`replay check` on it is the demo's suggested first question).
"""

from __future__ import annotations

from datetime import date, timedelta

from api.cli.demo.session import Office, lead_order

STAR_LEAD = "L-17"
CLOSE_REASONS = ["Abschluss: Maklervertrag unterschrieben", "kein Interesse", "nicht erreichbar", None, None]
HANDOVER = "Übernahme der Leads ausgeschiedener Kollegen"


def lead_day(office: Office, actor: str, prefix: str, today: date, count: int) -> None:
    """Hand back orphaned leads, close finished ones, assign `count` new leads, move one now and then."""
    world, rng = office.world, office.world.rng
    office.catch_up()  # the sweep's work: what fell due overnight changes who is still there
    brokers = office.members("broker")
    if not brokers:
        return
    orphans = [lead for lead in office.open_leads if office.tenant.assignments.get(f"lead:{lead}") is None]
    orphans.sort(key=lead_order)
    if STAR_LEAD in orphans and "marie.wagner" in brokers:
        orphans.remove(STAR_LEAD)
        world.later(1, 5)
        office.assign(actor, [STAR_LEAD], "marie.wagner", HANDOVER)
    spread(office, actor, orphans, brokers, HANDOVER)
    for lead, closes in sorted(office.open_leads.items(), key=lambda item: lead_order(item[0])):
        if closes <= today and office.tenant.assignments.get(f"lead:{lead}") is not None:
            world.later(0.5, 4)
            office.unassign(actor, lead, rng.choice(CLOSE_REASONS))
            del office.open_leads[lead]
    new = office.new_lead_ids(count, prefix)
    for lead in new:
        office.open_leads[lead] = date.max if lead == STAR_LEAD else today + timedelta(days=rng.randint(5, 50))
    if STAR_LEAD in new and "jonas.weber" in brokers:
        new.remove(STAR_LEAD)
        world.later(1, 5)
        office.assign(actor, [STAR_LEAD], "jonas.weber")
    spread(office, actor, new, brokers)
    if rng.random() < 0.3 and len(brokers) > 1:
        move_one(office, actor, brokers)


def spread(office: Office, actor: str, leads: list[str], brokers: list[str], reason: str | None = None) -> None:
    """One bulk assignment per broker (R-A1)."""
    by_broker: dict[str, list[str]] = {}
    for lead in leads:
        by_broker.setdefault(office.world.rng.choice(brokers), []).append(lead)
    for broker, ids in sorted(by_broker.items()):
        office.world.later(1, 6)
        office.assign(actor, ids, broker, reason)


def move_one(office: Office, actor: str, brokers: list[str]) -> None:
    """A customer asks for another broker: a reassignment with its previous assignee recorded."""
    source, target = office.world.rng.sample(brokers, 2)
    leads = [lead for lead in office.assigned_to(source) if lead != STAR_LEAD]
    if leads:
        office.world.later(1, 6)
        office.assign(actor, [office.world.rng.choice(leads)], target, "Kunde wünscht einen anderen Ansprechpartner")
