"""`accessledger demo`: a realistic year of history, telling seed 000's story (SPEC R-S4) and a few more.

Maklerbüro Sonne (5 included seats, monthly) hires an admin, a marketing agency and ten brokers, buys the
`user-seats` add-on, assigns hundreds of leads, covers vacations with expiring grants, promotes a team lead, and at
last cancels the add-on: at the term end the pending invitation is revoked and the five brokers created last are
removed, their leads unassigned and handed to the others the next morning. Lead L-17 travels from Jonas to Noah
(when Jonas becomes team lead) and, after Noah's removal, to Marie. Hausverwaltung Nord (CHF, yearly) shares the
agency's Lena, has an auditor, and withdraws a cancellation; a trial tenant closes (R-T5).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from api.cli.demo.leads import lead_day
from api.cli.demo.other_tenants import NORD, TRIAL, OtherTenants, email
from api.cli.demo.session import Office, World, lead_order
from domain.application import AccessLedger
from domain.clock import ManualClock

SONNE = "maklerbuero-sonne"
BROKERS = [
    ("jonas.weber", "Jonas Weber"),
    ("lukas.schmidt", "Lukas Schmidt"),
    ("marie.wagner", "Marie Wagner"),
    ("felix.hoffmann", "Felix Hoffmann"),
    ("laura.schulz", "Laura Schulz"),
    ("paul.becker", "Paul Becker"),
    ("sophie.koch", "Sophie Koch"),
    ("leon.richter", "Leon Richter"),
    ("emma.klein", "Emma Klein"),
    ("noah.wolf", "Noah Wolf"),
]


class Story(OtherTenants):
    """Drives the world day by day; `scale` multiplies the lead traffic (the story itself stays)."""

    def __init__(self, world: World, end: datetime, scale: float = 1.0) -> None:
        self.world = world
        self.rng = world.rng
        self.scale = scale
        self.end = end
        self.first_day = end.date() - timedelta(days=365)
        self.script: dict[int, list[tuple[int, int, int, Callable[[], None]]]] = {}
        self.sonne: Office | None = None
        self.nord: Office | None = None
        self.assigner = {SONNE: "anna.berger", NORD: "kai.petersen"}
        self.removal_day: date | None = None
        self._order = 0
        self.tokens: dict[str, str] = {}

    # ----------------------------------------------------------------- calendar

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        instant = datetime.combine(self.first_day + timedelta(days=day), time(hour, minute), tzinfo=UTC)
        return self.world.at(instant)

    def on(self, day: int, hour: int, minute: int, step: Callable[[], None]) -> None:
        """Schedule `step` at a time of a day; a day's steps run in time order (the leads at 08:05 and 13:05)."""
        self._order += 1
        self.script.setdefault(day, []).append((hour, minute, self._order, step))

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        self.plan()
        days = (self.end.date() - self.first_day).days
        for day in range(days):
            today = self.first_day + timedelta(days=day)
            if today.weekday() < 5:
                self.on(day, 8, 5, lambda today=today: self.lead_day(self.sonne, "L", today, 20, 34))
                self.on(day, 13, 5, lambda today=today: self.lead_day(self.nord, "N", today, 3, 8))
            steps = self.script.pop(day, [])
            while steps:  # a step may schedule another one later the same day
                steps.sort(key=lambda s: s[:3])
                hour, minute, _, step = steps.pop(0)
                self.at(day, hour, minute)
                step()
                steps.extend(self.script.pop(day, []))
            self.world.save()
            if progress:
                progress(day + 1, days)
        self.world.at(self.end)
        for office in self.world.offices.values():
            office.catch_up()
        self.world.save()

    # ----------------------------------------------------------------- the script

    def plan(self) -> None:
        self.on(0, 8, 0, self.open_sonne)
        self.on(30, 10, 0, self.open_nord)
        self.on(60, 11, 0, self.open_trial)
        self.on(
            65,
            16,
            20,
            lambda: self.world.offices[TRIAL].run(
                "ursula.lange", lambda t: t.cancel_subscription(), "Testphase beendet"
            ),
        )
        self.plan_sonne()
        self.plan_nord()

    def open_sonne(self) -> None:
        owner = {"user_id": "sonja.sommer", "email": email("sonja.sommer"), "name": "Sonja Sommer"}
        plan = {
            "name": "expert",
            "included_seats": 5,
            "billing_interval": "monthly",
            "currency": "EUR",
            "term_start": self.first_day,
        }
        self.sonne = self.world.open(SONNE, "Maklerbüro Sonne GmbH", plan, owner, "Vertrag Expert-Paket")
        self.world.later()
        self.sonne.invite("sonja.sommer", email("anna.berger"), "admin", "Büroleitung")

    def plan_sonne(self) -> None:
        s = lambda: self.sonne  # noqa: E731 - the office exists only once day 0 has run
        self.on(1, 7, 40, lambda: s().accept(email("anna.berger"), "anna.berger", "Anna Berger"))
        for user_id, name in BROKERS[:3]:
            self.on(1, 7, 45, lambda u=user_id, n=name: s().add("anna.berger", u, n, "broker", email(u)))
        agency = email("lena.fischer", "werbeagentur-blau.example")
        self.on(3, 10, 0, lambda: s().invite("anna.berger", agency, "marketing", "Agentur für die Frühjahrskampagne"))
        self.on(4, 9, 15, lambda: s().accept(agency, "lena.fischer", "Lena Fischer"))
        # A custom role (R-P7) for the agency, so what-if and assertions (R-R3, R-R4) have a role to weaken.
        self.on(4, 11, 0, lambda: s().run("anna.berger", define_campaign_role, "Agentur sieht Lead-Details"))
        self.on(
            4,
            11,
            5,
            lambda: s().run("anna.berger", lambda t: t.change_role("lena.fischer", "kampagne"), "Kampagnenrolle"),
        )
        self.on(
            5,
            9,
            0,
            lambda: s().run(
                "sonja.sommer",
                lambda t: t.purchase_addon("user-seats"),
                "Wir stellen weitere Makler ein",
            ),
        )
        felix = email("felix.hoffmann")
        self.on(6, 9, 0, lambda: s().invite("anna.berger", felix, "broker"))
        self.on(12, 16, 0, lambda: s().resend("anna.berger", felix, s().invitation_id(felix)))
        self.on(14, 8, 0, lambda: s().accept(felix, "felix.hoffmann", "Felix Hoffmann"))
        self.on(
            8, 14, 0, lambda: s().add("anna.berger", "laura.schulz", "Laura Schulz", "broker", email("laura.schulz"))
        )
        self.on(10, 14, 0, lambda: s().invite("anna.berger", email("paula.neumann"), "broker"))
        self.on(11, 18, 30, lambda: s().decline(email("paula.neumann")))
        self.on(15, 14, 0, lambda: s().add("anna.berger", "paul.becker", "Paul Becker", "broker", email("paul.becker")))
        self.on(20, 14, 0, lambda: s().invite("anna.berger", email("ben.schubert"), "broker"))  # never answered
        self.on(22, 14, 0, lambda: s().add("anna.berger", "sophie.koch", "Sophie Koch", "broker", email("sophie.koch")))
        self.on(30, 14, 0, lambda: s().invite("anna.berger", email("leon.richter"), "broker"))
        self.on(31, 8, 0, lambda: s().accept(email("leon.richter"), "leon.richter", "Leon Richter"))
        self.on(35, 14, 0, lambda: s().add("anna.berger", "emma.klein", "Emma Klein", "broker", email("emma.klein")))
        self.on(42, 14, 0, lambda: s().add("anna.berger", "noah.wolf", "Noah Wolf", "broker", email("noah.wolf")))
        self.on(50, 17, 0, lambda: self.tokens.update(marie=s().issue_token("marie.wagner", "Laptop")))
        self.on(
            60,
            16,
            0,
            lambda: s().grant(
                "anna.berger",
                "jonas.weber",
                "leads.assign",
                "all",
                days=14,
                reason="Vertretung der Lead-Verteilung während Annas Urlaub",
            ),
        )
        self.on(60, 16, 1, lambda: self.assigner.update({SONNE: "jonas.weber"}))
        self.on(74, 16, 5, lambda: self.assigner.update({SONNE: "anna.berger"}))
        self.on(
            75,
            15,
            0,
            lambda: s().grant(
                "anna.berger", "lukas.schmidt", "marketing.landing_pages", "all", reason="betreut die Landingpage Süd"
            ),
        )
        self.on(90, 15, 0, lambda: s().issue_token("jonas.weber", "CRM-Integration"))
        self.on(120, 15, 0, self.promote_jonas)
        self.on(
            140,
            15,
            0,
            lambda: s().run(
                "anna.berger", lambda t: t.revoke_grant(self.grant_of("lukas.schmidt")), "Projekt Landingpage beendet"
            ),
        )
        self.on(
            150,
            15,
            0,
            lambda: s().run(
                "anna.berger", lambda t: t.change_role("emma.klein", "manager"), "Vertretung der Teamleitung"
            ),
        )
        self.on(
            165,
            15,
            0,
            lambda: s().run("anna.berger", lambda t: t.change_role("emma.klein", "broker"), "Vertretung beendet"),
        )
        self.on(
            180,
            17,
            0,
            lambda: s().run("anna.berger", lambda t: t.remove_member("lena.fischer"), "Agenturvertrag beendet"),
        )
        self.on(
            200, 9, 0, lambda: s().run("marie.wagner", lambda t: t.revoke_token(self.tokens["marie"]), "Laptop ersetzt")
        )
        self.on(
            210,
            17,
            30,
            lambda: s().run(
                "paul.becker", lambda t: t.remove_member("paul.becker"), "Wechsel zu einem anderen Arbeitgeber"
            ),
        )
        for day in range(25, 340, 23):
            self.on(day, 7, 30, self.vacation)
        self.on(310, 11, 0, self.cancel_addon)

    def lead_day(self, office: Office | None, prefix: str, today: date, low: int, high: int) -> None:
        if office is not None:
            count = max(1, round(self.rng.uniform(low, high) * self.scale))
            lead_day(office, self.assigner[office.tenant_id], prefix, today, count)

    def promote_jonas(self) -> None:
        office = self.sonne
        # A custom role that includes `manager` (R-P7): what-if and assertions (R-R3, R-R4) can weaken it.
        office.run("anna.berger", define_team_lead_role, "Rolle für die Teamleitung")
        office.run("anna.berger", lambda t: t.change_role("jonas.weber", "teamleitung"), "Teamleitung Vertrieb")
        self.assigner[SONNE] = "jonas.weber"
        leads = office.assigned_to("jonas.weber")
        self.world.later()
        if leads:
            office.assign(
                "jonas.weber", sorted(leads, key=lead_order), "noah.wolf", "Übergabe meiner Leads an Noah Wolf"
            )

    def cancel_addon(self) -> None:
        office = self.sonne
        addon_id = next(iter(office.tenant.addons))
        office.run("anna.berger", lambda t: t.cancel_addon(addon_id), "Kosten senken: wir bleiben bei 5 Zugängen")
        term_end = datetime.combine(office.tenant.term_end, time(0), tzinfo=UTC)
        self.removal_day = office.tenant.term_end
        invite_at = max(self.world.clock.now() + timedelta(hours=2), term_end - timedelta(days=2, hours=8))
        day = (invite_at.date() - self.first_day).days
        self.on(
            day,
            invite_at.hour,
            invite_at.minute,
            lambda: office.invite("anna.berger", email("tim.vogel"), "broker", "Nachbesetzung für Paul"),
        )

    def vacation(self) -> None:
        """A broker goes on vacation for ten days; a colleague gets expiring access to three of their leads."""
        office = self.sonne
        brokers = office.members("broker")
        if len(brokers) < 2:
            return
        away, cover = self.rng.sample(brokers, 2)
        leads = sorted(office.assigned_to(away))[:3]
        name = office.tenant.members[away].name
        for lead in leads:
            self.world.later(1, 3)
            office.grant(
                "anna.berger",
                cover,
                "leads.view_details",
                "resource",
                ("lead", lead),
                days=10,
                reason=f"Urlaubsvertretung für {name}",
            )

    def grant_of(self, user_id: str) -> str:
        return next(g.grant_id for g in self.sonne.tenant.grants.values() if g.user_id == user_id)


def define_campaign_role(tenant: Any) -> Any:
    """`kampagne`: marketing plus lead details on every lead, for an agency running a campaign on the leads."""
    return tenant.define_role(
        role_id="kampagne",
        name="Kampagne (Agentur)",
        includes=["marketing"],
        permissions=[{"permission": "leads.view_details", "scope": "all"}],
    )


def define_team_lead_role(tenant: Any) -> Any:
    """`teamleitung`: everything of `manager` (all leads, assigning them), under a name of the office's own."""
    return tenant.define_role(role_id="teamleitung", name="Teamleitung Vertrieb", includes=["manager"], permissions=[])


def first_instant(end: datetime) -> datetime:
    """Where the demo's manual clock starts: midnight a year before `end`."""
    return datetime.combine(end.date() - timedelta(days=365), time(0), tzinfo=UTC)


def generate(
    app: AccessLedger,
    clock: ManualClock,
    end: datetime,
    scale: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the demo's year (ending at `end`) through `app`; answers what a reader should try next."""
    world = World(app, clock, seed)
    story = Story(world, end, scale)
    story.run(progress)
    sonne = world.offices[SONNE].tenant
    last_tuesday = end.date() - timedelta(days=(end.weekday() - 1) % 7 or 7)
    return {
        "tenants": sorted(world.offices),
        "events": app.head_position(),
        "first_day": story.first_day.isoformat(),
        "end": end,
        "removal_day": story.removal_day.isoformat() if story.removal_day else None,
        "members": sorted(m for m in sonne.members if m != sonne.owner_id),
        "check_at": datetime.combine(last_tuesday, time(10, 0), tzinfo=UTC),
    }
