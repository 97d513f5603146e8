"""The console's pages over plain HTTP: admin actions go through the API's commands with the reason in the audit
trail (R-L1), rules answer in words and record nothing, and each page shows what its API route answers (why, access
report, audit, diff, who could, what-if, changes), escaped (R-X7)."""

from __future__ import annotations

import re
from typing import Any

from tests.api.console.conftest import audit_count, csrf_of, set_clock, sign_in
from tests.api.http.client import TENANT, Api


def test_R_L1_role_change_goes_through_the_command_with_its_reason(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "ada")
    page = api.http.get(f"/console/t/{TENANT}/members/bob")
    assert 'action="/console/t/acme/members/bob/role"' in page.text
    reason = "<script>alert('x')</script> promoted after review"
    answer = api.http.post(
        f"/console/t/{TENANT}/members/bob/role",
        data={"role": "manager", "reason": reason, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    changed = [e for e in api.events() if e["event_type"] == "MemberRoleChanged"]
    assert changed[-1]["reason"] == reason and changed[-1]["actor"] == "ada"
    audit = api.http.get(f"/console/t/{TENANT}/audit", params={"type": "MemberRoleChanged"})
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; promoted after review" in audit.text
    assert "<script>alert" not in audit.text


def test_R_T2_rules_answer_in_words_and_record_nothing(story: tuple[Api, Any]) -> None:
    """R-P6 / R-T2 through the console: the ledger's refusal, as a page, and no event."""
    api, _ = story
    sign_in(api, "ada")
    page = api.http.get(f"/console/t/{TENANT}/members/olga")
    before = audit_count(api)
    answer = api.http.post(
        f"/console/t/{TENANT}/members/olga/role",
        data={"role": "broker", "reason": "try", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 409 and "owner_immutable" in answer.text
    assert audit_count(api) == before
    bad = api.http.post(
        f"/console/t/{TENANT}/members/bob/role",
        data={"role": "NOT A ROLE", "reason": "try", "csrf_token": csrf_of(page.text)},
    )
    assert bad.status_code == 422 and "role" in bad.text
    assert audit_count(api) == before


def test_R_I1_the_owner_invites_and_sees_the_token_once(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "olga")
    page = api.http.get(f"/console/t/{TENANT}/members")
    answer = api.http.post(
        f"/console/t/{TENANT}/invitations",
        data={"email": "new@acme.example", "role": "broker", "reason": "new hire", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 200
    token = re.search(r'<code class="secret">([^<]+)</code>', answer.text)
    assert token, answer.text
    accepted = api.post(
        "/v1/invitations/accept", None, json={"token": token.group(1), "user_id": "newbie", "name": "New Broker"}
    )
    assert accepted.status_code == 201, accepted.text
    sent = [e for e in api.events() if e["event_type"] == "InvitationSent"]
    assert sent and sent[-1]["reason"] == "new hire"


def test_R_C2_why_names_the_decision_its_sources_and_events(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    answer = api.http.get(
        f"/console/t/{TENANT}/why",
        params={
            "user_id": "marie",
            "permission": "leads.view_details",
            "resource_type": "lead",
            "resource_id": "L-17",
            "as_of": "2027-03-01T12:00",
        },
    )
    assert answer.status_code == 200
    assert "allowed" in answer.text and "assignment of lead:L-17" in answer.text
    assert "ResourcesAssigned" in answer.text and f"/console/t/{TENANT}/audit?since=" in answer.text
    before = api.http.get(
        f"/console/t/{TENANT}/why",
        params={
            "user_id": "marie",
            "permission": "leads.view_details",
            "resource_type": "lead",
            "resource_id": "L-17",
            "as_of": "2027-02-21",
        },
    )
    assert "denied" in before.text and "not_a_member" in before.text


def test_R_L5_access_report_as_of_a_date_and_its_csv(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    early = api.http.get(f"/console/t/{TENANT}/access-report", params={"as_of": "2027-02-22"})
    assert early.status_code == 200 and "2027-02-22T23:59:59" in early.text and ">marie<" not in early.text
    csv_answer = api.http.get(f"/console/t/{TENANT}/access-report", params={"as_of": "2027-03-01", "format": "csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    assert "marie,marie@acme.example,Marie,broker,leads.view_details,assigned" in csv_answer.text


def test_R_L4_audit_filters_export_and_verify(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    page = api.http.get(f"/console/t/{TENANT}/audit", params={"subject": "bob", "type": "PermissionGranted"})
    assert page.status_code == 200 and "quarterly billing review" in page.text and "MemberAdded</code>" not in page.text
    export = api.http.get(f"/console/t/{TENANT}/audit/export", params={"format": "csv", "subject": "bob"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "PermissionGranted" in export.text and "ResourcesAssigned" not in export.text
    verified = api.http.get(f"/console/t/{TENANT}/audit", params={"verify": "now"})
    assert "ok:" in verified.text and "the chain is intact" in verified.text
    for bad in ({"since": "yesterday"}, {"limit": "many"}, {"cursor": "not-a-cursor"}, {"actor": "bad id!"}):
        refused = api.http.get(f"/console/t/{TENANT}/audit", params=bad)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html"), bad


def test_R_R2_diff_groups_changes_by_member(story: tuple[Api, Any]) -> None:
    api, _ = story
    sign_in(api, "aude")
    answer = api.http.get(f"/console/t/{TENANT}/diff", params={"from": "2027-02-21", "to": "2027-03-01"})
    assert answer.status_code == 200
    assert ">marie</a></h2>" in answer.text and "gained" in answer.text and ">ada</a></h2>" not in answer.text


def test_R_C2_who_could_see_a_lead_checks_every_member_of_that_instant(story: tuple[Api, Any]) -> None:
    """Without a user id, the why page checks every member active at the instant through the batch check."""
    api, _ = story
    sign_in(api, "aude")
    params = {"permission": "leads.view_details", "resource_type": "lead", "resource_id": "L-17"}
    answer = api.http.get(f"/console/t/{TENANT}/why", params={**params, "as_of": "2027-03-01T12:00"})
    assert answer.status_code == 200
    rows = answer.text.split('<th scope="row">')[1:]
    decisions = {row.split("<br>")[0]: ("allowed" if ">allowed<" in row else "denied") for row in rows}
    assert decisions == {"olga": "allowed", "ada": "allowed", "aude": "denied", "bob": "denied", "marie": "allowed"}
    assert "assignment of lead:L-17" in answer.text
    before = api.http.get(f"/console/t/{TENANT}/why", params={**params, "as_of": "2027-02-21"})
    assert "marie" not in before.text


def test_R_P8_R_S3_lift_a_restriction_and_cancel_an_add_on_with_reasons(story: tuple[Api, Any]) -> None:
    """The console's other admin forms run the API's commands and store their reasons (R-L1)."""
    api, ids = story
    bought = api.post(f"/v1/tenants/{TENANT}/addons", json={"kind": "user-seats"})
    assert bought.status_code == 201, bought.text
    addon_id = bought.json()["addon"]["addon_id"]
    sign_in(api, "olga")
    member_page = api.http.get(f"/console/t/{TENANT}/members/bob")
    lifted = api.http.post(
        f"/console/t/{TENANT}/restrictions/{ids['restriction_id']}/lifting",
        data={"reason": "contacts again", "csrf_token": csrf_of(member_page.text)},
        follow_redirects=False,
    )
    assert lifted.status_code == 303 and lifted.headers["location"].endswith("/members/bob?done=restriction_lifted")
    overview = api.http.get(f"/console/t/{TENANT}")
    assert f'action="/console/t/acme/addons/{addon_id}/cancellation"' in overview.text
    cancelled = api.http.post(
        f"/console/t/{TENANT}/addons/{addon_id}/cancellation",
        data={"reason": "fewer brokers next term", "csrf_token": csrf_of(overview.text)},
        follow_redirects=True,
    )
    assert cancelled.status_code == 200 and "The add-on was cancelled" in cancelled.text
    reasons = {e["event_type"]: e["reason"] for e in api.events()}
    assert reasons["RestrictionLifted"] == "contacts again"
    assert reasons["AddOnCancellationScheduled"] == "fewer brokers next term"


def test_R_T6_the_operator_reads_but_has_no_command_on_a_tenant(story: tuple[Api, Any]) -> None:
    """R-T6 as the API has it: the operator sees no admin form, and a forged one is refused with nothing recorded."""
    api, ids = story
    sign_in(api, "operator")
    page = api.http.get(f"/console/t/{TENANT}/members/bob")
    assert page.status_code == 200 and "/revocation" not in page.text and "/role" not in page.text
    before = audit_count(api)
    answer = api.http.post(
        f"/console/t/{TENANT}/grants/{ids['grant_id']}/revocation",
        data={"reason": "x", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 403 and "operator" in answer.text
    assert audit_count(api) == before


def test_R_R3_what_if_shows_who_would_have_lost_what_and_records_nothing(story: tuple[Api, Any]) -> None:
    """A pasted catalog (YAML) through the API's what-if route: a custom role weakened, its holder's losses."""
    api, _ = story
    role = {
        "role_id": "assistant",
        "name": "Assistant",
        "includes": [],
        "permissions": [{"permission": "billing.view", "scope": "all"}],
    }
    assert api.post(f"/v1/tenants/{TENANT}/roles", json=role).status_code == 201
    sign_in(api, "olga")
    page = api.http.get(f"/console/t/{TENANT}/members/aude")
    assert (
        api.http.post(
            f"/console/t/{TENANT}/members/aude/role",
            data={"role": "assistant", "reason": "for the test", "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        ).status_code
        == 303
    )
    set_clock(api, "2027-03-05T12:00:00Z")
    before = audit_count(api)
    catalog = "roles:\n  - role_id: assistant\n    name: Assistant\n    includes: []\n    permissions: []\n"
    answer = api.http.post(
        f"/console/t/{TENANT}/what-if", data={"catalog": catalog, "from": "2027-03-03", "to": "2027-03-04"}
    )
    assert answer.status_code == 200, answer.text
    assert ">aude</a></h3>" in answer.text and "billing.view" in answer.text and "lost" in answer.text
    assert audit_count(api) == before
    broken = api.http.post(
        f"/console/t/{TENANT}/what-if", data={"catalog": "roles: [", "from": "2027-03-03", "to": "2027-03-04"}
    )
    assert broken.status_code == 422 and "not YAML or JSON" in broken.text
    sign_in(api, "bob")
    assert api.http.get(f"/console/t/{TENANT}/what-if").status_code == 403


def test_R_C5_changes_page_lists_the_feed_newest_first_and_pages_after_a_position(story: tuple[Api, Any]) -> None:
    """The API's change feed as a live list (a meta refresh, no script); `after` pages it as the API does."""
    api, _ = story
    feed = api.get(f"/v1/tenants/{TENANT}/changes", "aude", params={"limit": 1000}).json()["items"]
    assert feed, "the story changes access"
    sign_in(api, "aude")
    live = api.http.get(f"/console/t/{TENANT}/changes")
    assert live.status_code == 200 and '<meta http-equiv="refresh"' in live.text
    shown = re.findall(r'<td class="num">(\d+:\d+)</td>', live.text)
    assert shown == [f"{c['position']}:{c['index']}" for c in reversed(feed)][: len(shown)] and shown
    marie = api.http.get(f"/console/t/{TENANT}/changes", params={"user_id": "marie", "permission": "leads.list"})
    assert ">marie</a></th>" in marie.text and ">bob</a></th>" not in marie.text
    first = feed[0]["position"]
    paged = api.http.get(f"/console/t/{TENANT}/changes", params={"after": str(first)})
    assert '<meta http-equiv="refresh"' not in paged.text
    after_first = re.findall(r'<td class="num">(\d+):\d+</td>', paged.text)
    assert after_first and all(int(position) > first for position in after_first)
    assert api.http.get(f"/console/t/{TENANT}/changes", params={"after": "soon"}).status_code == 422
    sign_in(api, "bob")
    assert api.http.get(f"/console/t/{TENANT}/changes").status_code == 403
