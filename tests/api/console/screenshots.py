"""Screenshots of the console on the demo's data, for README.md and docs/compliance.md:

    .venv/bin/python -m tests.api.console.screenshots docs/console

Fills a temporary SQLite database with `accessledger demo` (a child process, waited for), serves it on a free
local port, issues the owner of maklerbuero-sonne a token through the ledger, and photographs each page in Debian's
Chromium at 1280×800 (one at a phone's 390×844). Nothing is left behind but the PNG files."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from api.http.app import create_app
from api.settings import Settings
from domain.actors import Actor
from tests.api.console.browser import Walk, chromium, live_server

TENANT = "maklerbuero-sonne"
OPERATOR = "screenshots-operator-token-0123456789abcdef"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WHY = "permission=leads.view_details&resource_type=lead&resource_id=L-17&as_of=2026-03-01T12:00:00"
PAGES = {
    "overview": f"/console/t/{TENANT}",
    "members": f"/console/t/{TENANT}/members?as_of=2026-10-29",
    "member": f"/console/t/{TENANT}/members/marie.wagner",
    "audit": f"/console/t/{TENANT}/audit?since=2026-10-30&type=MemberRemoved&type=AddOnEnded&type=InvitationRevoked",
    "access-report": f"/console/t/{TENANT}/access-report?as_of=2026-03-01",
    "diff": f"/console/t/{TENANT}/diff?from=2026-10-29&to=2026-10-31",
    "why-who-could": f"/console/t/{TENANT}/why?{WHY}",
    "why": f"/console/t/{TENANT}/why?user_id=marie.wagner&{WHY}",
    "changes": f"/console/t/{TENANT}/changes",
}
WHAT_IF = Path(__file__).resolve().parents[3] / "docs" / "examples" / "what-if-teamleitung.yaml"


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{work}/demo.db"
        env = {**os.environ, "ACCESSLEDGER_DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "api.cli.main", "demo"], env=env, check=True, capture_output=True)
        app = create_app(Settings(database_url=url, operator_token=OPERATOR, secret_key="screenshots"))
        services = app.state.services
        owner = services.queries.members(TENANT, role="owner")[0][0]["user_id"]
        token = services.ledger.issue_token(TENANT, Actor(owner, reason="console screenshots"), "screenshots")
        with live_server(app) as base, chromium() as browser:
            walk = Walk(browser, base, out, DESKTOP)
            walk.go("/console/sign-in")
            walk.shot("sign-in")
            walk.sign_in(token.values["token"])
            for name, path in PAGES.items():
                walk.go(path)
                walk.shot(name)
            today = services.now().date()
            walk.go(f"/console/t/{TENANT}/what-if")
            walk.page.get_by_label("Changed role catalog").fill(WHAT_IF.read_text())
            walk.page.get_by_label("From (start of the day, UTC)").fill(str(today - timedelta(days=364)))
            walk.page.get_by_label("To (end of the day, UTC)").fill(str(today))
            walk.page.get_by_role("button", name="Compare").click()
            walk.page.wait_for_load_state()
            walk.shot("what-if")
            walk.page.get_by_role("button", name="Sign out").click()
            walk.page.wait_for_load_state()
            walk.sign_in(OPERATOR)
            walk.shot("tenants")
            walk.context.close()
            phone = Walk(browser, base, out, PHONE)
            phone.go(PAGES["overview"])
            phone.sign_in(token.values["token"])
            phone.shot("phone-overview")
            phone.context.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console"))
