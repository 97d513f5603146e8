"""Bad configuration is one line on standard error and exit status 2, naming the setting, the value given and what
would be accepted; never a traceback, never a file created by mistake, never a password printed (R-Z…: operable
configuration). Each case of the first-hour report has its own test."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.api.cli.test_cli import PROGRAM, Cli, Run

PG = "postgresql://postgres@127.0.0.1:5432"


def run_with(tmp_path: Path, *args: str, **env: str) -> Run:
    """`accessledger args…` in an empty directory with these ACCESSLEDGER_* variables (and no others)."""
    cli = Cli(env.pop("ACCESSLEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'al.db'}"), tmp_path)
    cli.env.update(env)
    return cli(*args)


def assert_one_line(run: Run, *fragments: str) -> str:
    """Exit 2, one line on stderr starting `accessledger: error:`, holding each fragment; no traceback."""
    assert run.code == 2, (run.code, run.out, run.err)
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("accessledger: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_mysql_url_names_the_setting_the_value_and_the_accepted_forms(tmp_path):
    """A MySQL URL (51 lines of traceback before) is one line; its password is shown as ***."""
    run = run_with(tmp_path, "tick", ACCESSLEDGER_DATABASE_URL="mysql://app:hunter2@db/ledger")
    line = assert_one_line(run, "ACCESSLEDGER_DATABASE_URL", "mysql://app:***@db/ledger", "sqlite:///", "postgresql://")
    assert "hunter2" not in line


def test_clock_in_capitals_names_the_accepted_values(tmp_path):
    assert_one_line(
        run_with(tmp_path, "tick", ACCESSLEDGER_CLOCK="Manual"), "ACCESSLEDGER_CLOCK", "'Manual'", "system or manual"
    )


def test_sweep_interval_over_a_minute_names_the_range(tmp_path):
    """R-K1 (due changes at least once a minute) bounds the sweep interval."""
    run = run_with(tmp_path, "tick", ACCESSLEDGER_SWEEP_INTERVAL_SECONDS="120")
    assert_one_line(run, "ACCESSLEDGER_SWEEP_INTERVAL_SECONDS", "'120'", "0 (off) to 60")


def test_audit_verify_with_a_bad_setting_names_it(tmp_path):
    """Before: "1 validation error" without naming the setting."""
    run = run_with(tmp_path, "audit", "verify", ACCESSLEDGER_CLOCK="sometimes")
    assert_one_line(run, "ACCESSLEDGER_CLOCK", "'sometimes'")


def test_sqlite_url_with_one_slash_is_refused_and_creates_no_file(tmp_path):
    """`sqlite:/demo.db` silently created ./emo.db before."""
    run = run_with(tmp_path, "demo", ACCESSLEDGER_DATABASE_URL="sqlite:/demo.db")
    assert_one_line(run, "ACCESSLEDGER_DATABASE_URL", "'sqlite:/demo.db'", "sqlite:///")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sqlite_url_with_three_slashes_is_relative_and_the_error_names_the_path(tmp_path):
    """`sqlite:///tmp/x.db` is tmp/x.db under the working directory; the error says so and how to write /tmp/x.db."""
    run = run_with(tmp_path, "demo", ACCESSLEDGER_DATABASE_URL="sqlite:///tmp/x.db")
    assert_one_line(run, str(tmp_path / "tmp" / "x.db"), "sqlite:////tmp/x.db")
    assert not (tmp_path / "tmp").exists()


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        (f"{PG}/al_no_such_database_x", ["127.0.0.1:5432", "'al_no_such_database_x'", "does not exist"]),
        ("postgresql://postgres@al-no-such-host.invalid:5432/ledger", ["al-no-such-host.invalid:5432", "'ledger'"]),
        (f"{PG}/postgres?schema=al_no_such_schema", ["'al_no_such_schema'", "CREATE SCHEMA al_no_such_schema"]),
    ],
    ids=["missing-database", "unknown-host", "missing-schema"],
)
def test_postgresql_that_refuses_names_host_port_database_and_reason(tmp_path, url, fragments):
    """Before: only "couldn't get a connection after 5.00 sec"."""
    from tests.conftest import require_postgres

    require_postgres()
    assert_one_line(run_with(tmp_path, "tick", ACCESSLEDGER_DATABASE_URL=url), *fragments)


def test_unknown_accessledger_variable_is_warned_about_once(tmp_path):
    """A misspelt variable was silently ignored; now one warning naming the closest setting, and the command runs."""
    run = run_with(tmp_path, "tick", ACCESSLEDGER_CLOK="manual")
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if "ACCESSLEDGER_CLOK" in line]
    assert warnings == [
        "accessledger: warning: ACCESSLEDGER_CLOK is not a setting and is ignored (did you mean ACCESSLEDGER_CLOCK?)"
    ]


def test_serve_and_project_hide_the_password_and_serve_warns_about_its_own_token(tmp_path, postgresql_url):
    """`serve` and `project` printed the database URL with its password; with projections out of process, a
    generated operator token works on that one process only, so `serve` warns."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLEDGER_")}
    with_password = postgresql_url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth ignores it
    env.update(ACCESSLEDGER_DATABASE_URL=with_password, ACCESSLEDGER_IN_PROCESS_PROJECTIONS="false", NO_COLOR="1")
    server = subprocess.Popen(
        [PROGRAM, "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in server.stdout:
            lines.append(line)
            if "set the same ACCESSLEDGER_OPERATOR_TOKEN" in line or "Uvicorn running" in line or len(lines) > 30:
                break
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    text = "".join(lines)
    assert "s3cret-pw" not in text
    assert "postgres:***@127.0.0.1" in text, text
    assert "set the same ACCESSLEDGER_OPERATOR_TOKEN on every process" in text, text

    projector = subprocess.Popen([PROGRAM, "project"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        first = projector.stdout.readline()
    finally:
        projector.send_signal(signal.SIGTERM)
        try:
            projector.wait(timeout=15)
        except subprocess.TimeoutExpired:
            projector.kill()
            projector.wait()
    assert "postgres:***@127.0.0.1" in first and "s3cret-pw" not in first, first


def test_a_bad_url_never_prints_its_password(tmp_path):
    run = run_with(tmp_path, "serve", ACCESSLEDGER_DATABASE_URL="postgresql://postgres:s3cret-pw@127.0.0.1:notaport/x")
    line = assert_one_line(run, "ACCESSLEDGER_DATABASE_URL", "postgres:***@127.0.0.1")
    assert "s3cret-pw" not in run.err + run.out, line


def test_help_screens_show_no_type_placeholders_and_offer_completion():
    """Help showed `<bool>`, `<str>` (also on an argument's row); shell completion was switched off."""
    import re

    import typer
    from typer.testing import CliRunner

    from api.cli.main import app
    from tests.docs.reference import cli_commands

    runner = CliRunner()
    names = list(cli_commands(typer.main.get_command(app)))
    for name in names:
        result = runner.invoke(app, [*name.split()[1:], "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, (name, result.output)
        rows = [line for line in result.output.splitlines() if line.startswith("│")]
        assert not any(re.search(r"<(bool|str|int|float|list|path|function)\b", line) for line in rows), (name, rows)
    root = runner.invoke(app, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
    assert "--install-completion" in root and "--show-completion" in root
    state_help = runner.invoke(app, ["replay", "state", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
    assert re.search(r"--tenant\s+TENANT\b", state_help), state_help
    assert_help = runner.invoke(app, ["assert", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
    assert re.search(r"Usage: .*assert \[OPTIONS\] FILE\b", assert_help), assert_help


def test_demo_fills_two_schemas_of_one_database(tmp_path, postgresql_url):
    """`?schema=` works for any number of schemas: the demo into a second schema failed after writing all its
    events (`function accessledger_append_only() does not exist`), leaving the schema half filled (R-L3 guards).
    The demo names the database it filled without the password."""
    import psycopg

    from tests.api.cli.test_cli import SCALE

    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA office_a")
        conn.execute("CREATE SCHEMA office_b")
    with_password = postgresql_url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth ignores it
    for schema in ("office_a", "office_b"):
        cli = Cli(f"{with_password}?schema={schema}", tmp_path)
        demo = cli("demo", "--scale", SCALE)
        assert demo.code == 0, demo.err
        assert "postgres:***@" in demo.out and "s3cret-pw" not in demo.out + demo.err, "the demo printed a password"
        verify = cli("audit", "verify")
        assert verify.code == 0 and verify.out.startswith("ok:"), verify.out + verify.err


def test_R_Z6_a_read_replica_beside_sqlite_is_a_configuration_error(tmp_path):
    """SQLite has no replicas: the replica setting beside a SQLite primary is refused before anything starts."""
    run = run_with(tmp_path, "tick", ACCESSLEDGER_READ_DATABASE_URL="postgresql://app:hunter2@replica/ledger")
    line = assert_one_line(run, "ACCESSLEDGER_READ_DATABASE_URL", "app:***@replica", "SQLite", "unset")
    assert "hunter2" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_R_Z6_a_sqlite_read_replica_is_a_configuration_error(tmp_path):
    run = run_with(
        tmp_path,
        "tick",
        ACCESSLEDGER_DATABASE_URL=f"{PG}/postgres",
        ACCESSLEDGER_READ_DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}",
    )
    assert_one_line(run, "ACCESSLEDGER_READ_DATABASE_URL", "PostgreSQL streaming replica")


def test_R_Z6_a_replica_in_another_schema_is_a_configuration_error(tmp_path):
    run = run_with(
        tmp_path,
        "tick",
        ACCESSLEDGER_DATABASE_URL=f"{PG}/postgres?schema=one",
        ACCESSLEDGER_READ_DATABASE_URL=f"{PG}/postgres?schema=two",
    )
    assert_one_line(run, "ACCESSLEDGER_READ_DATABASE_URL", "'two'", "'one'")
