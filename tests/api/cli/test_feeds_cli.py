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
