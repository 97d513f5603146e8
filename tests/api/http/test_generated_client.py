"""An SDK a generator can make: openapi-python-client generates a client from the app's OpenAPI document without a
single warning (every route an operationId that reads as a method name, one schema per model), and a short
scenario runs through the generated code: open a tenant, add a member, check, a 409 parsed as a problem, a
lookup (R-C4) and the change feed (R-C5). On SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.http.app import create_app
from tests.api.http.client import OPERATOR_TOKEN

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "accessledger_client"


def _generate(spec: dict, where: Path) -> None:
    path = where / "openapi.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [GENERATOR, "generate", "--path", str(path), "--output-path", str(where / PACKAGE), "--meta", "none"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    noise = [line for line in said.splitlines() if line.strip() and not line.startswith("Generating ")]
    assert not noise, "the generator warned:\n" + said


def test_an_sdk_generated_from_the_schema_runs_a_scenario(settings, tmp_path) -> None:
    app = create_app(settings)
    with TestClient(app) as http:
        spec = http.get("/openapi.json").json()
        operations = {o["operationId"] for item in spec["paths"].values() for o in item.values()}
        assert {"open_tenant", "add_member", "check", "lookup_resources", "lookup_subjects", "changes"} <= operations
        _generate(spec, tmp_path)
        sys.path.insert(0, str(tmp_path))
        try:
            sdk = importlib.import_module(PACKAGE)
            _scenario(sdk, http)
        finally:
            sys.path.remove(str(tmp_path))
            for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
                del sys.modules[name]


def _client(sdk, http: TestClient, token: str):
    plain = httpx.Client(
        transport=http._transport, base_url=str(http.base_url), headers={"Authorization": f"Bearer {token}"}
    )
    return sdk.AuthenticatedClient(base_url=str(http.base_url), token=token).set_httpx_client(plain)


def _scenario(sdk, http: TestClient) -> None:
    tenants = importlib.import_module(f"{PACKAGE}.api.tenants.open_tenant")
    add_member = importlib.import_module(f"{PACKAGE}.api.members.add_member")
    check = importlib.import_module(f"{PACKAGE}.api.checks_and_reports.check")
    assign = importlib.import_module(f"{PACKAGE}.api.resources_and_assignments.assign")
    lookup = importlib.import_module(f"{PACKAGE}.api.lookups_and_changes.lookup_resources")
    changes = importlib.import_module(f"{PACKAGE}.api.lookups_and_changes.changes")
    models = importlib.import_module(f"{PACKAGE}.models")

    operator = _client(sdk, http, OPERATOR_TOKEN)
    body = models.OpenTenantIn.from_dict(
        {
            "tenant_id": "sdk-co",
            "name": "SDK Co",
            "plan": {"name": "expert", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"},
            "owner": {"user_id": "olga", "email": "olga@sdk.example", "name": "Olga"},
        }
    )
    opened = tenants.sync(client=operator, body=body)
    assert isinstance(opened, models.TenantOpened), opened
    owner = _client(sdk, http, opened.owner_token)
    member = models.AddMemberIn.from_dict(
        {"user_id": "bob", "email": "bob@sdk.example", "name": "Bob", "role": "broker"}
    )
    added = add_member.sync("sdk-co", client=owner, body=member)
    assert isinstance(added, models.MemberCreated) and added.member.user_id == "bob", added
    again = add_member.sync_detailed("sdk-co", client=owner, body=member)
    assert again.status_code == 409 and isinstance(again.parsed, models.Problem)
    assert again.parsed.code == "already_member"
    assignment = models.AssignIn.from_dict({"resource_type": "lead", "resource_ids": ["L-1", "L-2"], "user_id": "bob"})
    assert assign.sync_detailed("sdk-co", client=owner, body=assignment).status_code == 200
    decision = check.sync(
        "sdk-co",
        client=owner,
        user_id="bob",
        permission=models.CheckPermission("leads.view_details"),
        resource_type="lead",
        resource_id="L-2",
    )
    assert isinstance(decision, models.Decision) and decision.allowed is True
    leads = lookup.sync(
        "sdk-co",
        client=owner,
        user_id="bob",
        permission=models.LookupResourcesPermission("leads.view_details"),
        resource_type="lead",
    )
    assert [item.resource.id for item in leads.items] == ["L-1", "L-2"] and leads.all_ is False
    feed = changes.sync("sdk-co", client=operator, user_id="bob")
    assert feed.items and {c.user_id for c in feed.items} == {"bob"} and feed.next_after == feed.items[-1].position
