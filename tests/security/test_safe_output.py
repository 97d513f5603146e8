"""R-X7: CSV exports never hand a spreadsheet a formula, and the command line never writes a control character it
read from the database to a terminal (finding 8 of issue 13)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from tests.api.http.client import TENANT, Api
from tests.support import actor

T = f"/v1/tenants/{TENANT}"
PROGRAM = str(Path(sys.executable).parent / "accessledger")
FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", '=HYPERLINK("http://evil.example","x")']


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_R_X7_finding8_csv_exports_neutralise_formulas(acme: Api) -> None:
    for n, name in enumerate(FORMULAS):
        body = {"user_id": f"m{n}", "email": f"m{n}@acme.example", "name": name, "role": "broker"}
        answer = acme.post(f"{T}/members", json=body, headers={"X-Reason": name})
        assert answer.status_code == 201, answer.text
    report = acme.get(f"{T}/access-report", params={"format": "csv"})
    names = {row[2] for row in rows(report.text)[1:]}
    assert {f"'{name}" for name in FORMULAS} <= names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows(report.text) for cell in row)
    export = acme.get(f"{T}/audit/export", params={"format": "csv"})
    table = rows(export.text)
    reasons = {row[table[0].index("reason")] for row in table[1:]}
    assert {f"'{name}" for name in FORMULAS} <= reasons
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for cell in row)
    # JSON Lines stays exact: it is what verification reads.
    lines = acme.get(f"{T}/audit/export", params={"format": "jsonl"}).text
    assert '"reason":"=1+1"' in lines


def test_R_X7_finding8_the_command_line_never_writes_control_characters(acme: Api, database_url: str) -> None:
    """Data recorded before R-X6 refused control characters (written here through the ledger itself) is shown
    escaped by `replay timeline`, `replay state` and `audit export`."""
    services = acme.http.app.state.services
    services.ledger.add_member(
        TENANT,
        actor("olga", reason="ring \x07 the \x1b[2J bell"),
        user_id="eve",
        email="eve@acme.example",
        name="Eve\x1b]0;pwned\x07\u202e",
        role="broker",
    )
    services.runner.catch_up()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLEDGER_")}
    env.update(ACCESSLEDGER_DATABASE_URL=database_url, NO_COLOR="1")
    for args in (
        ["replay", "timeline", "--tenant", TENANT],
        ["replay", "timeline", "--tenant", TENANT, "--json"],
        ["replay", "state", "--tenant", TENANT],
        ["replay", "state", "--tenant", TENANT, "--json"],
    ):
        done = subprocess.run([PROGRAM, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not any(c in done.stdout for c in "\x07\x1b\u202e"), (args, done.stdout)
        assert "\\u001b" in done.stdout, (args, done.stdout)
