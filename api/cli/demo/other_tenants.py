"""The demo's second and third tenant: Hausverwaltung Nord (CHF, yearly: an auditor by invitation, the agency's
Lena shared with Sonne, an add-on, the four-eyes policy, a cancellation withdrawn) and a trial tenant that closes
(R-T5). A mixin of `Story`, which owns the calendar (`on`) and the world."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.cli.demo.session import Office, World

NORD, TRIAL = "hausverwaltung-nord", "immobilien-test"


def email(user_id: str, domain: str = "maklerbuero-sonne.example") -> str:
    """The demo's made-up addresses (`.example` domains never reach anyone)."""
    return f"{user_id}@{domain}"


class OtherTenants:
    """Opens and scripts Nord and the trial tenant inside the story's calendar."""

    world: World
    nord: Office | None

    def open_nord(self) -> None:
        owner = {
            "user_id": "henrik.nielsen",
            "email": email("henrik.nielsen", "hv-nord.example"),
            "name": "Henrik Nielsen",
        }
        plan = {"name": "expert", "included_seats": 3, "billing_interval": "yearly", "currency": "CHF"}
        self.nord = self.world.open(NORD, "Hausverwaltung Nord AG", plan, owner, "Vertrag Expert-Paket (jährlich)")
        self.world.later()
        self.nord.add(
            "henrik.nielsen", "kai.petersen", "Kai Petersen", "admin", email("kai.petersen", "hv-nord.example")
        )

    def plan_nord(self) -> None:
        n = lambda: self.nord  # noqa: E731
        clara = email("clara.schmidt", "hv-nord.example")
        self.on(31, 10, 0, lambda: n().invite("henrik.nielsen", clara, "auditor", "Interne Revision"))
        self.on(32, 9, 0, lambda: n().accept(clara, "clara.schmidt", "Clara Schmidt"))
        self.on(
            33,
            10,
            0,
            lambda: n().add(
                "kai.petersen",
                "lena.fischer",
                "Lena Fischer",
                "marketing",
                email("lena.fischer", "werbeagentur-blau.example"),
                "Agentur Blau",
            ),
        )
        self.on(
            34,
            10,
            0,
            lambda: n().run(
                "kai.petersen",
                lambda t: t.purchase_addon("user-seats"),
                "Mehr Zugänge für die Makler",
            ),
        )
        self.on(
            35,
            10,
            0,
            lambda: n().add(
                "kai.petersen", "ole.hansen", "Ole Hansen", "broker", email("ole.hansen", "hv-nord.example")
            ),
        )
        self.on(
            36,
            10,
            0,
            lambda: n().add(
                "kai.petersen", "maja.larsen", "Maja Larsen", "broker", email("maja.larsen", "hv-nord.example")
            ),
        )
        self.on(40, 10, 0, lambda: n().run("henrik.nielsen", lambda t: t.change_policy(2), "Vier-Augen-Prinzip"))
        self.on(
            100,
            10,
            0,
            lambda: n().grant(
                "kai.petersen", "clara.schmidt", "leads.view_details", "all", days=7, reason="Prüfung Q2"
            ),
        )
        self.on(
            200, 18, 0, lambda: n().run("henrik.nielsen", lambda t: t.cancel_subscription(), "Anbieterwechsel prüfen")
        )
        self.on(215, 9, 0, lambda: n().run("henrik.nielsen", lambda t: t.withdraw_cancellation(), "Wir bleiben"))

    def open_trial(self) -> None:
        owner = {"user_id": "ursula.lange", "email": "ursula.lange@immobilien-test.example", "name": "Ursula Lange"}
        plan = {"name": "starter", "included_seats": 1, "billing_interval": "monthly", "currency": "EUR"}
        trial = self.world.open(TRIAL, "Immobilien Test KG", plan, owner, "Testzugang")
        self.world.later()
        trial.add("ursula.lange", "max.mustermann", "Max Mustermann", "broker", "max@immobilien-test.example")
