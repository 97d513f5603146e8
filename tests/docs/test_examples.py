"""Every shell example of the README and docs/ runs, in order, against a fresh server on a temporary database
(one per page, on SQLite and on PostgreSQL), and prints what the page shows after it (R-X…: the docs are the
contract a newcomer follows). Examples under a route or command heading the app does not serve yet are skipped
and listed."""

from __future__ import annotations

import shutil

import pytest

from tests.docs.examples import blocks, doc_environment, matches, not_served_yet, pages, run_page, served_now
from tests.docs.reference import ROOT

PAGES = pages()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[set[tuple[str, str]], set[str]]:
    """The routes the app serves and the commands the CLI has, now."""
    return served_now(tmp_path_factory.mktemp("openapi") / "routes.db")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_example_of_the_page_runs_and_prints_what_it_shows(page, database_url, tmp_path, served):
    """The page's `sh` blocks run in one shell, in order; each output block matches (`…` is anything)."""
    page_blocks = [b for b in blocks(page) if b.runs]
    if "postgresql" in database_url and any("export ACCESSLEDGER_DATABASE_URL=" in b.code for b in page_blocks):
        pytest.skip(f"{page.name} chooses its own database (a SQLite file)")
    if not page_blocks:
        pytest.skip(f"{page.name} has no examples to run")
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            pytest.fail(f"the examples need {tool}: install it (apt-get install -y {tool})")
    pending = [b for b in page_blocks if not_served_yet(b.heading, *served)]
    running = [b for b in page_blocks if b not in pending]
    outcomes = run_page(running, tmp_path, doc_environment(database_url, tmp_path))
    where = page.relative_to(ROOT)
    assert len(outcomes) == len(running), (
        f"{where}:{running[len(outcomes) - 1].line if outcomes else running[0].line}: the example stopped the page:\n"
        + (outcomes[-1].output if outcomes else "(no output)")
        + _server_log(tmp_path)
    )
    wrong = [
        o
        for o in outcomes
        if o.block.expected is not None and not matches(o.block.expected, o.output, o.block.expected_language)
    ]
    assert not wrong, "\n\n".join(
        f"{where}:{o.block.line} printed:\n{o.output.strip()}\nbut the page shows:\n{o.block.expected}" for o in wrong
    ) + _server_log(tmp_path)
    if pending:
        print(f"{where}: not served yet, skipped: " + ", ".join(b.heading.lstrip("# ") for b in pending))


def _server_log(workdir) -> str:
    log = workdir / "serve.log"
    return "\n--- serve.log (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-15:]) if log.exists() else ""
