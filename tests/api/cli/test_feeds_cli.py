"""`replay lookup` (R-C4) and `replay changes` (R-C5) through the installed program on the demo's story, on SQLite
and PostgreSQL."""

from __future__ import annotations

from tests.api.cli.test_cli import SONNE, cli_for


def test_R_C4_replay_lookup_lists_marie_s_leads_and_the_subjects_of_L_17(database_url, tmp_path):
    cli = cli_for(database_url, tmp_path)
    cli.demo()
    leads, leads_json, subjects, subjects_json, both = cli.many(
        [
            "replay",
            "lookup",
            "--tenant",
            SONNE,
            "--user",
            "marie.wagner",
            "--permission",
            "leads.view_details",
            "--type",
            "lead",
        ],
        [
            "replay",
            "lookup",
            "--tenant",
            SONNE,
            "--user",
            "marie.wagner",
            "--permission",
            "leads.view_details",
            "--type",
            "lead",
            "--json",
        ],
        ["replay", "lookup", "--tenant", SONNE, "--permission", "leads.view_details", "--resource", "lead:L-17"],
        [
            "replay",
            "lookup",
            "--tenant",
            SONNE,
            "--permission",
            "leads.view_details",
            "--resource",
            "lead:L-17",
            "--json",
        ],
        ["replay", "lookup", "--tenant", SONNE, "--permission", "leads.view_details"],
    )
    for run in (leads, leads_json, subjects, subjects_json):
        assert run.code == 0, (run.args, run.err)
    answer = leads_json.json()
    ids = [i["resource"]["id"] for i in answer["items"]]
    assert "L-17" in ids and ids == sorted(ids) and answer["all"] is False
    assert "lead:L-17" in leads.out and "assignment of lead:L-17" in leads.out
    names = [s["user_id"] for s in subjects_json.json()["items"]]
    assert "marie.wagner" in names and "sonja.sommer" in names and names == sorted(names)
    assert "marie.wagner" in subjects.out and "broker" in subjects.out
    assert both.code == 2 and both.err.startswith("accessledger: error:") and "--resource" in both.err


def test_R_C5_replay_changes_prints_the_feed_and_follow_prints_what_comes(database_url, tmp_path):
    import os
    import signal
    import subprocess
    import time

    from api.runtime import open_runtime
    from api.settings import Settings
    from tests.api.cli.test_cli import PROGRAM
    from tests.support import actor

    cli = cli_for(database_url, tmp_path)
    cli.demo()
    text, as_json = cli.many(
        ["replay", "changes", "--tenant", SONNE], ["replay", "changes", "--tenant", SONNE, "--json"]
    )
    assert text.code == 0 and as_json.code == 0, (text.err, as_json.err)
    entries = as_json.json()
    assert entries[0]["event_type"] == "TenantOpened" and entries[0]["user_id"] == "sonja.sommer"
    lines = text.out.splitlines()
    assert lines[0].startswith("1:0 ") and "TenantOpened" in lines[0] and "sonja.sommer" in lines[0]
    assert len(entries) == len([x for x in lines if x[:1].isdigit()])
    assert any(e["event_type"] == "MemberRemoved" and e["effect"] == "lost" for e in entries)
    head = entries[-1]["position"]
    later = cli("replay", "changes", "--tenant", SONNE, "--after", str(head), "--json")
    assert later.code == 0 and later.json() == []

    follow = subprocess.Popen(
        [PROGRAM, "replay", "changes", "--tenant", SONNE, "--after", str(head), "--follow", "--json"],
        cwd=tmp_path,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        runtime = open_runtime(Settings(database_url=database_url, clock="system"), create_tables=False)
        try:
            runtime.ledger.grant(
                SONNE, actor("sonja.sommer"), user_id="marie.wagner", permission="billing.view", scope="all"
            )
            runtime.runner.catch_up()
        finally:
            runtime.close()
        line = follow.stdout.readline()
        import json

        entry = json.loads(line)
        assert (entry["event_type"], entry["user_id"], entry["effect"]) == (
            "PermissionGranted",
            "marie.wagner",
            "gained",
        )
    finally:
        os.kill(follow.pid, signal.SIGINT)
        try:
            follow.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(follow.pid, signal.SIGKILL)
            follow.wait(timeout=15)
