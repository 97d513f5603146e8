"""The API reference in docs/reference/ covers the running app: every route of its OpenAPI document has a
`### METHOD /path` heading, every command of `accessledger` a `### accessledger …` section naming each option.
A route or command added without documentation fails here, with the page and heading to add."""

from __future__ import annotations

import re

import pytest
import typer

from api.cli.main import app as cli_app
from api.http.app import create_app
from api.settings import Settings
from tests.docs.reference import (
    CLI_PAGE,
    REFERENCE,
    cli_commands,
    cli_sections,
    documented_routes,
    long_options,
    page_for,
    route_key,
)


@pytest.fixture
def served_routes(database_url: str) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document of an app on the test's database."""
    settings = Settings(database_url=database_url, clock="manual", operator_token="op-token-for-reference-tests")
    application = create_app(settings)
    try:
        paths = application.openapi()["paths"]
    finally:
        application.state.services.close()
    return [(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"]


def test_every_route_of_the_openapi_document_is_in_the_reference(served_routes):
    """R-X…: each (method, path) the app serves has a heading in docs/reference/ (parameter names may differ)."""
    documented = documented_routes()
    missing = [(m, p) for m, p in served_routes if route_key(m, p) not in documented]
    assert served_routes, "the app's OpenAPI document lists no routes"
    assert not missing, "routes without documentation; add to the reference:\n" + "\n".join(
        f"  docs/reference/{page_for(p)}: a heading `### {m} {p}` with who may call it, the body and the answer,"
        " and a ```sh example"
        for m, p in missing
    )


def test_reference_headings_name_real_route_shapes():
    """Headings are parsed as routes (the test above would pass vacuously on a typo such as `### GET v1/…`)."""
    documented = documented_routes()
    assert ("GET", "/v1/tenants/{}/check") in documented
    assert all(path.startswith("/") for _, path in documented)
    text = "\n".join(p.read_text(encoding="utf-8") for p in REFERENCE.glob("*.md"))
    assert "| 409 | `clock_backwards` |" in text  # the error table lists every code


def test_every_cli_command_and_option_is_in_the_reference():
    """Each visible `accessledger` command has a `### accessledger …` section in cli.md naming each option."""
    sections = cli_sections()
    root = typer.main.get_command(cli_app)
    problems = []
    for name, command in cli_commands(root).items():
        is_group = name == "accessledger" or bool(getattr(command, "commands", None))
        section = sections.get("" if name == "accessledger" else name)
        if section is None:
            if not is_group:
                problems.append(f"  a section `### {name}` (what it does, its options, an example)")
            continue
        problems += [
            f"  the option `{option}` in the section `### {name}`"
            for option in long_options(command)
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", section.text)
        ]
    page = CLI_PAGE.relative_to(CLI_PAGE.parents[2])
    assert not problems, f"the command line is not fully documented; add to {page}:\n" + "\n".join(problems)
