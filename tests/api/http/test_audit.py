"""The audit trail over HTTP (R-L1…R-L4)."""

from __future__ import annotations

import csv
import io
import json

from tests.api.http.client import TENANT, Api, assert_problem

AUDIT = f"/v1/tenants/{TENANT}/audit"


def test_R_L4_audit_filters_and_pages(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("carl")
    everything = acme.get(AUDIT).json()["items"]
    assert everything[0]["event_type"] == "TenantOpened" and all("hash" in e for e in everything)
    added = acme.get(AUDIT, params={"type": ["MemberAdded", "TenantOpened"]}).json()["items"]
    assert {e["event_type"] for e in added} == {"MemberAdded", "TenantOpened"} and len(added) == 3
    about_bob = acme.get(AUDIT, params={"subject": "bob"}).json()["items"]
    assert about_bob and all(e["subject"] == "bob" for e in about_bob)
    first = acme.get(AUDIT, params={"limit": 2}).json()
    rest = acme.get(AUDIT, params={"limit": 1000, "cursor": first["next_cursor"]}).json()
    assert [e["position"] for e in first["items"] + rest["items"]] == [e["position"] for e in everything]
    assert_problem(acme.get(AUDIT, params={"since": "yesterday"}), 422, "validation_error")


def test_R_L1_no_secret_reaches_the_audit(acme: Api) -> None:
    token = acme.add_member("bob")["token"]
    text = json.dumps(acme.get(AUDIT).json())
    assert token not in text and "token_hash" not in text


def test_R_L4_export_jsonl_and_csv(acme: Api) -> None:
    acme.add_member("bob")
    count = len(acme.get(AUDIT).json()["items"])
    jsonl = acme.get(f"{AUDIT}/export")
    assert jsonl.status_code == 200 and jsonl.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in jsonl.text.splitlines() if line]
    assert len(lines) == count
    as_csv = acme.get(f"{AUDIT}/export", "operator", params={"format": "csv", "type": "MemberAdded"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["event_type"] for r in rows] == ["MemberAdded"]
    assert_problem(acme.get(f"{AUDIT}/export", params={"format": "xml"}), 422, "validation_error")


def test_R_L2_verify(acme: Api) -> None:
    acme.add_member("bob")
    answer = acme.get(f"{AUDIT}/verify").json()
    assert answer["ok"] is True and answer["first_mismatch"] is None and answer["entries"] >= 3


def test_audit_needs_audit_read(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("audra", "auditor")
    assert acme.get(AUDIT, "audra").status_code == 200
    for path in (AUDIT, f"{AUDIT}/export", f"{AUDIT}/verify"):
        refused = assert_problem(acme.get(path, "bob"), 403, "forbidden")
        assert refused["missing_permission"] == "audit.read"
