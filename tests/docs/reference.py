"""What the API reference in docs/reference/ documents: route headings (`### GET /v1/...`) and CLI sections
(`### accessledger replay check`), read from the Markdown so the tests can compare them with the running app."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
CLI_PAGE = REFERENCE / "cli.md"

# Where a route belongs, by the first path segment after /v1/tenants/{t}/ (or the path's start): the page a
# failing test names. A segment not listed goes to tenants.md (tenant-wide) or service.md (everything else).
PAGE_OF_SEGMENT = {
    "members": "members.md",
    "tokens": "members.md",
    "invitations": "members.md",
    "erasures": "members.md",
    "policy": "tenants.md",
    "subscription": "tenants.md",
    "owner-token": "tenants.md",
    "addons": "tenants.md",
    "charges": "tenants.md",
    "roles": "permissions.md",
    "grants": "permissions.md",
    "restrictions": "permissions.md",
    "resources": "permissions.md",
    "assignments": "permissions.md",
    "check": "checks.md",
    "explain": "checks.md",
    "access-report": "checks.md",
    "lookup": "checks.md",
    "changes": "checks.md",
    "what-if": "checks.md",
    "assertions": "checks.md",
    "audit": "audit.md",
}

_ROUTE_HEADING = re.compile(r"^###\s+`?(GET|POST|PUT|PATCH|DELETE)\s+(/\S*?)`?\s*$")
_CLI_HEADING = re.compile(r"^###\s+`?(accessledger(?:\s+[a-z][\w-]*)*)`?\s*$")


def route_key(method: str, path: str) -> tuple[str, str]:
    """A route compared by method and shape: path parameters match whatever they are named."""
    return method.upper(), re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def page_for(path: str) -> str:
    """The reference page a route's heading belongs on."""
    if path.startswith("/console"):
        return "console.md"
    match = re.match(r"^/v1/tenants/\{[^}]*\}/([^/]+)", path)
    if match:
        return PAGE_OF_SEGMENT.get(match.group(1), "tenants.md")
    if path.startswith("/v1/tenants"):
        return "tenants.md"
    if path.startswith("/v1/invitations"):
        return "members.md"
    return "service.md"


def documented_routes() -> dict[tuple[str, str], str]:
    """Every `### METHOD /path` heading of docs/reference/*.md, with the page it is on."""
    found: dict[tuple[str, str], str] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for line in page.read_text(encoding="utf-8").splitlines():
            match = _ROUTE_HEADING.match(line)
            if match:
                found[route_key(match.group(1), match.group(2))] = page.name
    return found


@dataclass
class CliSection:
    """One `### accessledger …` section of cli.md: the command and the text up to the next heading."""

    command: str
    text: str


def cli_sections() -> dict[str, CliSection]:
    """The command sections of cli.md, by command (`accessledger replay check`), plus "" for the introduction."""
    sections: dict[str, CliSection] = {}
    current, lines = "", []
    for line in CLI_PAGE.read_text(encoding="utf-8").splitlines():
        match = _CLI_HEADING.match(line)
        if match or line.startswith("## ") or line.startswith("### "):
            sections[current] = CliSection(current, "\n".join(lines))
            current, lines = (" ".join(match.group(1).split()) if match else f"#{line}"), []
            continue
        lines.append(line)
    sections[current] = CliSection(current, "\n".join(lines))
    return sections


def cli_commands(group: Any, prefix: str = "accessledger") -> dict[str, Any]:
    """Every visible command of the `accessledger` program by its full name; groups included."""
    commands = {prefix: group}
    # Duck-typed: typer builds its commands on its own copy of click, not the `click` package.
    for name, command in (getattr(group, "commands", None) or {}).items():
        if not command.hidden:
            commands.update(cli_commands(command, f"{prefix} {name}"))
    return commands


def long_options(command: Any) -> list[str]:
    """The visible long options of a command (`--tenant`), `--help` aside."""
    names = []
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False):
            names += [n for n in (*param.opts, *param.secondary_opts) if n.startswith("--") and n != "--help"]
    return names
