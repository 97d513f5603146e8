"""R-L6's reserved prefix from the CLI, on SQLite and PostgreSQL: `accessledger erase` with a reason that begins
with `pd1:` fails with one clear line and exit status 2, and records nothing (R-X2)."""

from __future__ import annotations

from domain.application import AccessLedger
from tests.api.cli.test_cli import cli_for
from tests.support import TENANT, Opened, add_member, owner


def test_R_L6_R_X2_erase_with_a_reason_beginning_with_pd1_is_one_line_and_records_nothing(
    opened: Opened, ledger: AccessLedger, database_url: str, tmp_path
) -> None:
    """R-L6: PersonErased keeps its reason in clear, so a reason starting with the reserved prefix is refused."""
    add_member(ledger, "bea")
    ledger.remove_member(TENANT, owner(), "bea")
    head = ledger.head_position()
    cli = cli_for(database_url, tmp_path)
    assert cli("replay", "rebuild").code == 0  # the read models the command needs
    refused = cli("erase", "--tenant", TENANT, "--user", "bea", "--reason", "pd1:Antrag 42", "--yes")
    assert refused.code == 2, refused.err
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1 and "'pd1:'" in lines[0] and "reserved" in lines[0], refused.err
    assert ledger.head_position() == head
    erased = cli("erase", "--tenant", TENANT, "--user", "bea", "--reason", "Antrag 42", "--yes")
    assert erased.code == 0, erased.err
    assert ledger.head_position() > head
