"""The `replay`, `audit` and `demo` commands through the installed `accessledger` program, on SQLite and PostgreSQL.

Each test fills its own database with a small demo (`--scale`, hidden, thins the lead traffic; the story stays),
then runs the commands as a user would, as subprocesses; independent commands run side by side to keep the suite
short.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

PROGRAM = str(Path(sys.executable).parent / "accessledger")
SONNE = "maklerbuero-sonne"
SCALE = "0.02"


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class Cli:
    """Runs `accessledger …` on one database, from a scratch directory."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url = url
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLEDGER_")}
        self.env.update(ACCESSLEDGER_DATABASE_URL=url, NO_COLOR="1")

    def start(self, *args: str) -> tuple[list[str], subprocess.Popen]:
        process = subprocess.Popen(
            [PROGRAM, *args], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return list(args), process

    def many(self, *commands: list[str]) -> list[Run]:
        """Run commands side by side (they only read); results in the order given."""
        started = [self.start(*command) for command in commands]
        runs = []
        for args, process in started:
            try:
                out, err = process.communicate(timeout=120)
            finally:
                if process.poll() is None:
                    process.kill()
            runs.append(Run(args, process.returncode, out, err))
        return runs

    def __call__(self, *args: str) -> Run:
        return self.many(list(args))[0]

    def demo(self) -> dict[str, str]:
        """A small demo; answers the `--at` of the suggested check and the diff window."""
        run = self("demo", "--scale", SCALE)
        assert run.code == 0, run.err
        at = re.search(r"--resource lead:L-17 --at (\S+)", run.out).group(1)
        window = re.search(r"replay diff --tenant \S+ --from (\S+) --to (\S+)", run.out)
        return {"at": at, "from": window.group(1), "to": window.group(2), "out": run.out}


def cli_for(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path)


# ----------------------------------------------------------------------------------------------------- reading


def test_R_R2_demo_tells_seed_000_and_replay_explains_it(database_url, tmp_path):
    """R-R2, R-S4, R-C2: the demo's story read back through every read command, as text and as JSON."""
    cli = cli_for(database_url, tmp_path)
    demo = cli.demo()
    assert "Filled" in demo["out"] and "maklerbuero-sonne" in demo["out"] and "/docs" in demo["out"]
    at = demo["at"]
    lead = ["--permission", "leads.view_details", "--resource", "lead:L-17", "--at", at]
    marie, marie_json, noah, noah_strict, timeline, timeline_json, diff, diff_json, state, state_json = cli.many(
        ["replay", "check", "--tenant", SONNE, "--user", "marie.wagner", *lead],
        ["replay", "check", "--tenant", SONNE, "--user", "marie.wagner", *lead, "--json"],
        ["replay", "check", "--tenant", SONNE, "--user", "noah.wolf", *lead],
        ["replay", "check", "--tenant", SONNE, "--user", "noah.wolf", *lead, "--fail-on-deny"],
        ["replay", "timeline", "--tenant", SONNE, "--user", "noah.wolf"],
        ["replay", "timeline", "--tenant", SONNE, "--since", demo["from"], "--until", demo["to"], "--json"],
        ["replay", "diff", "--tenant", SONNE, "--from", demo["from"], "--to", demo["to"]],
        ["replay", "diff", "--tenant", SONNE, "--from", demo["from"], "--to", demo["to"], "--json"],
        ["replay", "state", "--tenant", SONNE, "--at", demo["from"]],
        ["replay", "state", "--tenant", SONNE, "--json"],
    )
    for run in (marie, marie_json, noah, timeline, timeline_json, diff, diff_json, state, state_json):
        assert run.code == 0, (run.args, run.err)

    lines = marie.out.splitlines()
    assert lines[0] == "allowed"
    assert "  role broker" in lines and "  assignment of lead:L-17" in lines
    assert any("ResourcesAssigned" in x and "lead:L-17 assigned to marie.wagner" in x for x in lines)
    decision = marie_json.json()
    assert decision["allowed"] is True and decision["scope"] == "assigned"
    assert {"kind": "assignment", "resource": {"type": "lead", "id": "L-17"}} in decision["via"]
    assert [e["event_type"] for e in decision["events"]] == ["MemberAdded", "ResourcesAssigned"]

    assert noah.out.splitlines()[0] == "denied" and "not_a_member" in noah.out
    assert noah.code == 0 and noah_strict.code == 1, "deny exits 1 only with --fail-on-deny"

    removal = [x for x in timeline.out.splitlines() if "MemberRemoved" in x]
    assert len(removal) == 1 and "system" in removal[0] and "noah.wolf removed (seat_capacity_reduced)" in removal[0]
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+#\d+\s+MemberAdded\s+anna\.berger\s+noah\.wolf", timeline.out)

    entries = timeline_json.json()
    removed = sorted(e["subject"] for e in entries if e["event_type"] == "MemberRemoved")
    assert removed == ["emma.klein", "felix.hoffmann", "leon.richter", "noah.wolf", "sophie.koch"]
    assert all(e["summary"] for e in entries)
    assert any(e["event_type"] == "InvitationRevoked" and e["reason"] == "seat_capacity_reduced" for e in entries)

    changes = diff_json.json()
    assert {c["user_id"] for c in changes if c["change"] == "lost"} >= {"noah.wolf", "emma.klein"}
    assert all(c["event_type"] for c in changes)
    assert "noah.wolf" in diff.out and "leads.view_details" in diff.out and " lost " in diff.out

    for name in ("noah.wolf", "emma.klein", "addon_", "capacity 20"):
        assert name in state.out
    now = state_json.json()
    assert now["seats"]["capacity"] == 5 and now["seats"]["members"] == 5
    assert [m["user_id"] for m in now["members"]][:5] == [
        "sonja.sommer",
        "anna.berger",
        "jonas.weber",
        "lukas.schmidt",
        "marie.wagner",
    ]
    assert "lead:L-17" in now["assignments"]["marie.wagner"]


def test_R_L4_export_streams_filtered_jsonl_and_csv(database_url, tmp_path):
    """R-L4, R-L2: export with filters in both formats; verify passes on an untouched trail."""
    cli = cli_for(database_url, tmp_path)
    cli.demo()
    jsonl, csv, verify, verify_json, position = cli.many(
        ["audit", "export", "--tenant", SONNE, "--format", "jsonl", "--type", "MemberRemoved", "--actor", "system"],
        ["audit", "export", "--tenant", SONNE, "--format", "csv", "--subject", "marie.wagner"],
        ["audit", "verify"],
        ["audit", "verify", "--tenant", SONNE, "--json"],
        ["replay", "state", "--tenant", SONNE, "--position", "5", "--json"],
    )
    assert jsonl.code == csv.code == verify.code == verify_json.code == position.code == 0
    removed = [json.loads(x) for x in jsonl.out.splitlines()]
    last_created_first = ["noah.wolf", "emma.klein", "leon.richter", "sophie.koch", "felix.hoffmann"]
    assert [e["subject"] for e in removed] == last_created_first, "R-S4: highest seat order first"
    assert all(e["reason"] == "seat_capacity_reduced" and len(e["hash"]) == 64 for e in removed)
    rows = csv.out.splitlines()
    assert rows[0].startswith("position,tenant_id,sequence,event_type,occurred_at")
    assert len(rows) > 2 and all("marie.wagner" in row for row in rows[1:])
    assert verify.out.startswith("ok: ") and "3 tenants" in verify.out
    assert verify_json.json()["ok"] is True and verify_json.json()["first_mismatch"] is None
    early = position.json()
    assert early["sequence"] == 5 and early["position"] == 5 and early["as_of"] is None


# ----------------------------------------------------------------------------------------------------- rebuild, tamper


def _answers(cli: Cli, demo: dict[str, str]) -> dict[str, str]:
    lead = ["--permission", "leads.view_details", "--resource", "lead:L-17", "--at", demo["at"]]
    runs = cli.many(
        ["replay", "check", "--tenant", SONNE, "--user", "marie.wagner", *lead, "--json"],
        ["replay", "check", "--tenant", SONNE, "--user", "noah.wolf", *lead, "--json"],
        ["replay", "diff", "--tenant", SONNE, "--from", demo["from"], "--to", demo["to"], "--json"],
        ["replay", "state", "--tenant", SONNE, "--at", demo["to"], "--json"],
        ["replay", "timeline", "--tenant", SONNE, "--json"],
        ["audit", "export", "--tenant", "hausverwaltung-nord", "--format", "csv"],
        ["audit", "verify", "--json"],
    )
    for run in runs:
        assert run.code == 0, (run.args, run.err)
    return {" ".join(run.args): run.out for run in runs}


def _tamper(url: str) -> None:
    """As the database owner: drop the append-only guard and change one entry's data (sequence 10 of SONNE)."""
    change = (
        "UPDATE audit_entries SET data = replace(data, 'broker', 'admin') WHERE tenant_id = 'maklerbuero-sonne' "
        "AND sequence = 10"
    )
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///") :])
        try:
            conn.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
            assert conn.execute(change).rowcount == 1
            conn.commit()
        finally:
            conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        assert conn.execute(change).rowcount == 1


def test_R_R1_rebuild_gives_the_same_answers_and_R_L2_verify_names_a_tampered_entry(database_url, tmp_path):
    """R-R1: after a whole and a one-tenant rebuild every answer is what it was; R-L2/R-L3: an entry changed behind
    the guard's back is named by `audit verify` (exit 1), and a rebuild then refuses to swap."""
    cli = cli_for(database_url, tmp_path)
    demo = cli.demo()
    before = _answers(cli, demo)

    whole = cli("replay", "rebuild")
    assert whole.code == 0, whole.err
    assert re.match(r"rebuilt directory, history, audit(, \w+)*: [\d,]+ events in [\d.]+ s \([\d,]+ ev", whole.out)
    assert "events/s" in whole.err, "the progress bar goes to standard error"
    one = cli("replay", "rebuild", "--tenant", SONNE, "--projection", "history", "--json")
    assert one.code == 0 and one.json()["ok"] is True and one.json()["projections"] == ["history"]
    after = _answers(cli, demo)
    for command, answer in before.items():
        assert after[command] == answer, f"{command} answers differently after the rebuilds"

    _tamper(database_url)
    broken, broken_json, other = cli.many(
        ["audit", "verify"],
        ["audit", "verify", "--tenant", SONNE, "--json"],
        ["audit", "verify", "--tenant", "hausverwaltung-nord"],
    )
    rebuild = cli("replay", "rebuild", "--projection", "audit")
    assert broken.code == 1
    assert "BROKEN: tenant maklerbuero-sonne, entry sequence 10 (position 10): data differs" in broken.out
    assert broken_json.code == 1
    assert broken_json.json()["first_mismatch"] == {
        "tenant_id": SONNE,
        "sequence": 10,
        "position": 10,
        "problem": "data differs from event store",
    }
    assert other.code == 0, "another tenant's chain is untouched"
    assert rebuild.code == 1 and "sequence 10" in rebuild.out and "kept" in rebuild.out
    assert "internal error" not in rebuild.err, "typer's Exit(1) was reported as an internal error"


# ----------------------------------------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_on_stderr_and_exit_2(database_url, tmp_path):
    """Unknown tenant or user, malformed times, --from after --to, an empty database: one line, status 2."""
    cli = cli_for(database_url, tmp_path)
    empty = cli.many(["audit", "verify"], ["replay", "timeline", "--tenant", SONNE])
    cli.demo()
    check = ["replay", "check", "--tenant", SONNE, "--permission", "leads.list"]
    bad = cli.many(
        ["replay", "state", "--tenant", "no-such-tenant"],
        ["audit", "export", "--tenant", "no-such-tenant", "--format", "csv"],
        [*check, "--user", "ghost"],
        ["replay", "timeline", "--tenant", SONNE, "--user", "ghost"],
        [*check, "--user", "marie.wagner", "--at", "last tuesday"],
        [*check, "--user", "marie.wagner", "--at", "2026-11-17T10:00"],
        [*check, "--user", "marie.wagner", "--resource", "L-17"],
        [*check[:-1], "leads.fly", "--user", "marie.wagner"],
        ["replay", "diff", "--tenant", SONNE, "--from", "2026-10-24", "--to", "2026-10-22"],
        ["replay", "state", "--tenant", SONNE, "--at", "2000-01-01"],
        ["replay", "state", "--tenant", SONNE, "--at", "2999-01-01"],
        ["audit", "export", "--tenant", SONNE, "--format", "xml"],
        ["audit", "export", "--tenant", SONNE, "--type", "NoSuchEvent"],
        ["replay", "rebuild", "--projection", "nope"],
    )
    for run in [*empty, *bad]:
        assert run.code == 2, (run.args, run.code, run.err)
        assert run.out == "", run.args
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("accessledger: error: "), (run.args, run.err)
        assert "Traceback" not in run.err
    assert "no events yet" in empty[1].err or "no database" in empty[1].err
    assert "no-such-tenant" in bad[0].err and "ghost" in bad[2].err and "time zone" in bad[5].err
    assert "after" in bad[8].err
