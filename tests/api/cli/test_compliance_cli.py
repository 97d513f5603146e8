"""`accessledger replay what-if` (R-R3) and `accessledger assert` (R-R4) on the demo, on SQLite and PostgreSQL:
the shipped example files, a failing run under a weakened role, and bad files as one line with exit status 2."""

from __future__ import annotations

from pathlib import Path

from tests.api.cli.test_cli import SONNE, cli_for

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
ASSERTIONS = str(EXAMPLES / "assertions-maklerbuero-sonne.yaml")
WEAKER = str(EXAMPLES / "what-if-teamleitung.yaml")


def test_r_r3_r_r4_demo_what_if_and_assertions(database_url, tmp_path):
    """R-R3: the weakened team lead role shows Jonas's losses and gains; R-R4: the example file passes on the
    demo, fails under the weakened role with one line per failure and exit 1; nothing is recorded."""
    cli = cli_for(database_url, tmp_path)
    window = cli.demo()
    head_before = cli("audit", "verify", "--tenant", SONNE, "--json").json()["entries"]
    what_if, what_if_json, passing, failing, failing_json = cli.many(
        ["replay", "what-if", "--tenant", SONNE, "--roles", WEAKER, "--from", window["from"], "--to", window["to"]],
        [
            "replay",
            "what-if",
            "--tenant",
            SONNE,
            "--roles",
            WEAKER,
            "--from",
            "2025-01-01",
            "--to",
            window["to"],
            "--json",
        ],
        ["assert", "--tenant", SONNE, ASSERTIONS],
        ["assert", "--tenant", SONNE, ASSERTIONS, "--roles", WEAKER],
        ["assert", "--tenant", SONNE, ASSERTIONS, "--roles", WEAKER, "--json"],
    )
    assert what_if.code == 0, what_if.err
    assert "recorded nothing" in what_if.out
    changes = what_if_json.json()["changes"]
    assert {(c["user_id"], c["permission"], c["scope"], c["effect"]) for c in changes} >= {
        ("jonas.weber", "leads.view_details", "all", "lost"),
        ("jonas.weber", "leads.view_details", "assigned", "gained"),
    }
    assert passing.code == 0, passing.out + passing.err
    assert passing.out.strip().endswith("9 passed, 0 failed")
    assert failing.code == 1, failing.out + failing.err
    lines = failing.out.strip().splitlines()
    assert lines[0].startswith("FAIL user jonas.weber may leads.view_details on lead:L-17 at ")
    assert lines[0].endswith("expected allow, found denied (not_assigned)")
    assert lines[-1] == "8 passed, 1 failed"
    assert failing_json.json()["failed"][0]["assertion"]["resource"] == {"type": "lead", "id": "L-17"}
    assert cli("audit", "verify", "--tenant", SONNE, "--json").json()["entries"] == head_before


def test_r_r4_bad_files_are_one_line_and_exit_2(database_url, tmp_path):
    """R-R4: an unreadable file, YAML that is not a mapping, an unknown field, a python tag (safe loading) and a
    built-in role in --roles each answer one line on standard error and exit status 2."""
    cli = cli_for(database_url, tmp_path)
    cli.demo()
    files = {
        "list.yaml": "- just a list\n",
        "field.yaml": "assertions:\n  - {user_id: anna.berger, permission: users.manage, expect: maybe}\n",
        "tag.yaml": "assertions: !!python/object/apply:os.system ['true']\n",
        "broken.json": '{"assertions": [',
        "admin.yaml": "roles: [{role_id: admin, name: A, includes: [], permissions: []}]\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    runs = cli.many(
        ["assert", "--tenant", SONNE, str(tmp_path / "missing.yaml")],
        ["assert", "--tenant", SONNE, str(tmp_path / "list.yaml")],
        ["assert", "--tenant", SONNE, str(tmp_path / "field.yaml")],
        ["assert", "--tenant", SONNE, str(tmp_path / "tag.yaml")],
        ["assert", "--tenant", SONNE, str(tmp_path / "broken.json")],
        [
            "replay",
            "what-if",
            "--tenant",
            SONNE,
            "--roles",
            str(tmp_path / "admin.yaml"),
            "--from",
            "2025-12-01",
            "--to",
            "2026-01-01",
        ],
    )
    for run in runs:
        assert run.code == 2, (run.args, run.out, run.err)
        assert run.err.startswith("accessledger: error: ") and len(run.err.strip().splitlines()) == 1, run.err
    assert "expect" in runs[2].err
