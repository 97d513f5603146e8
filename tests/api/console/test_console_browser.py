"""The console in a real browser (Chromium through Playwright), on both databases: sign in, walk every page, use the
date picker, download CSVs, take one admin action with a reason and find it in the audit trail as text (R-L1,
R-L4, R-L5, R-C2). Screenshots go to $CONSOLE_SCREENSHOTS (docs/console/ when regenerating them) or tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

from api.http.app import create_app
from api.settings import Settings
from tests.api.console.browser import Walk, chromium, http_client, live_server, require_browser
from tests.api.console.conftest import build_story
from tests.api.http.client import OPERATOR_TOKEN, TENANT, Api

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
REASON = "<script>alert('owned')</script> access review Q1"


def _shots(database_url: str, tmp_path: Path) -> Path:
    wanted = os.environ.get("CONSOLE_SCREENSHOTS")
    path = Path(wanted) if wanted and database_url.startswith("sqlite") else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_R_L4_R_L5_R_C2_console_walk_in_chromium(settings: Settings, database_url: str, tmp_path: Path) -> None:
    require_browser()
    shots = _shots(database_url, tmp_path)
    with live_server(create_app(settings)) as base, http_client(base) as http, chromium() as browser:
        api = Api(http)
        ids = build_story(api)
        walk = Walk(browser, base, shots, DESKTOP)
        page = walk.page

        # Without a session: the sign-in page, which brings us back where we wanted to go.
        walk.go(f"/console/t/{TENANT}/audit")
        assert "/console/sign-in?next=" in page.url and walk.heading() == "Sign in"
        page.keyboard.type("wrong-token")  # the token field has the focus: the keyboard alone signs in
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert "not accepted" in page.locator(".error").inner_text()
        walk.shot("sign-in")
        walk.go(f"/console/t/{TENANT}/audit")
        walk.sign_in(api.tokens["olga"])
        assert page.url.endswith(f"/console/t/{TENANT}/audit") and walk.heading() == "Audit trail"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"

        # Every page, reached by its link.
        for link, heading in [
            ("Overview", "acme Ltd"),
            ("Members", "Members"),
            ("Access report", "Access report as of"),
            ("Diff", "Who gained or lost what"),
            ("Why?", "Why could they, or not?"),
            ("Changes", "Changes"),
            ("What if", "What if"),
            ("Audit trail", "Audit trail"),
        ]:
            page.get_by_role("navigation", name="Console").get_by_role("link", name=link, exact=True).click()
            page.wait_for_load_state()
            assert walk.heading().startswith(heading), (link, walk.heading())
        walk.go(f"/console/t/{TENANT}")
        assert page.locator("figure.chart svg").count() == 3
        walk.shot("overview")
        walk.go(f"/console/t/{TENANT}/audit")
        walk.shot("audit")
        walk.go(f"/console/t/{TENANT}/changes")
        assert page.get_by_role("row", name="marie").count() >= 3  # gained what her role and L-17 give
        walk.shot("changes")
        walk.go(f"/console/t/{TENANT}/what-if")
        page.get_by_label("From (start of the day, UTC)").fill("2027-02-20")
        page.get_by_label("To (end of the day, UTC)").fill("2027-03-01")
        page.get_by_role("button", name="Compare").click()
        page.wait_for_load_state()
        assert "0 members would differ" in page.locator("h2").first.inner_text()
        walk.shot("what-if")

        # The date picker: members as of 22 February (before marie joined), then the access report of 1 March.
        walk.go(f"/console/t/{TENANT}/members")
        page.get_by_label("As of (date)").fill("2027-02-22")
        page.get_by_role("button", name="Show").click()
        page.wait_for_load_state()
        assert "as_of=2027-02-22" in page.url and "marie" not in page.locator("table").inner_text()
        walk.go(f"/console/t/{TENANT}/members")
        walk.shot("members")
        walk.go(f"/console/t/{TENANT}/access-report")
        page.get_by_label("As of (date; the end of that day, UTC)").fill("2027-03-01")
        page.get_by_role("button", name="Show").click()
        page.wait_for_load_state()
        assert walk.heading() == "Access report as of 2027-03-01T23:59:59.999999Z"
        walk.shot("access-report")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        report = Path(download.value.path()).read_text()
        assert report.startswith("user_id,email,name,role,permission") and "marie,marie@acme.example" in report

        # Diff between two dates, grouped by member.
        walk.go(f"/console/t/{TENANT}/diff")
        page.get_by_label("From (start of the day, UTC)").fill("2027-02-21")
        page.get_by_label("To (end of the day, UTC)").fill("2027-03-01")
        page.get_by_role("button", name="Compare").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="marie").count() == 1
        walk.shot("diff")

        # Why: who could see lead L-17 on 1 March, then marie's decision and the event behind it.
        walk.go(f"/console/t/{TENANT}/why")
        page.get_by_label("Permission").select_option("leads.view_details")
        page.get_by_label("Resource type").fill("lead")
        page.get_by_label("Resource id").fill("L-17")
        page.get_by_label("At (UTC; empty: now)").fill("2027-03-01T12:00:00")
        page.get_by_role("button", name="Explain").click()
        page.wait_for_load_state()
        assert "3 allowed" in page.get_by_role("heading", name="Every member").inner_text()
        walk.shot("why-who-could")
        page.get_by_role("row", name="marie").get_by_role("link", name="why?").click()
        page.wait_for_load_state()
        assert page.locator(".verdict").inner_text() == "allowed"
        assert "assignment of lead:L-17" in page.locator("main").inner_text()
        walk.shot("why")
        page.get_by_role("link", name="ResourcesAssigned").first.click()
        page.wait_for_load_state()
        assert walk.heading() == "Audit trail" and "#entry-" in page.url
        assert page.locator(page.url[page.url.index("#") :]).inner_text().count("ResourcesAssigned") == 1

        # One admin action with a reason that holds markup: the grant is revoked, the reason shown as text.
        walk.go(f"/console/t/{TENANT}/members/bob")
        walk.shot("member")
        row = page.get_by_role("row", name=ids["grant_id"])
        row.get_by_label("Reason (stored in the audit trail)").fill(REASON)
        row.get_by_role("button", name=f"Revoke {ids['grant_id']}").click()
        page.wait_for_load_state()
        assert page.get_by_role("status").inner_text() == "The grant was revoked."
        walk.go(f"/console/t/{TENANT}/audit?type=PermissionRevoked")
        assert page.locator("td.reason").last.inner_text() == REASON
        walk.shot("audit-reason-as-text")
        with page.expect_download() as download:
            page.get_by_role("link", name="CSV").click()
        assert "PermissionRevoked" in Path(download.value.path()).read_text()
        page.get_by_role("link", name="Verify now").click()
        page.wait_for_load_state()
        assert page.locator(".ok").inner_text().startswith("ok:")

        # The operator: sign out, sign in with the operator token, every tenant.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()
        assert walk.heading() == "Sign in"
        walk.sign_in(OPERATOR_TOKEN)
        assert walk.heading() == "Tenants" and page.get_by_role("row", name="other").count() == 1
        walk.shot("tenants")

        assert walk.dialogs == [], "a script ran"
        assert walk.errors == [], walk.errors
        walk.context.close()

        # A phone's width: nothing wider than the screen but the scrolling tables.
        phone = Walk(browser, base, shots, PHONE)
        phone.go(f"/console/t/{TENANT}/members/bob")
        phone.sign_in(api.tokens["ada"])
        assert phone.heading().startswith("Bob")
        for path in ("/members/bob", "", "/audit"):
            phone.go(f"/console/t/{TENANT}{path}")
            assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        phone.go(f"/console/t/{TENANT}/members/bob")
        phone.shot("phone-member")
        assert phone.errors == [], phone.errors
        phone.context.close()
