"""Run a Markdown page's shell examples in order, in one bash process, and compare what they print with the
output block shown after each.

Conventions (docs/reference/README.md says them to readers): a fenced block whose info string starts `sh` runs;
`sh no-run` does not (installs, long-running servers, other machines). A fenced block of another language right
after a running block is that block's shown output: `…` stands for anything, whitespace is not significant in
`json` blocks and any run of it counts as one space elsewhere.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.docs.reference import ROOT

DOC_PORT = "8765"
_FENCE = re.compile(r"^```(\S*)(.*)$")
_MARK = "\x1eblock-{}\x1e"
_ROUTE = re.compile(r"^###\s+`?(GET|POST|PUT|PATCH|DELETE)\s+(/\S*?)`?\s*$")
_COMMAND = re.compile(r"^###\s+`?(accessledger(?:\s+[a-z][\w-]*)*)`?\s*$")


@dataclass
class Block:
    """One shell example: its code, the output shown after it (if any), where it is, and the section's heading."""

    code: str
    line: int
    heading: str
    runs: bool
    expected: str | None = None
    expected_language: str = ""


def blocks(page: Path) -> list[Block]:
    """The shell blocks of a page, in order, each with the output block that follows it (blank lines between)."""
    found: list[Block] = []
    heading = ""
    lines = page.read_text(encoding="utf-8").splitlines()
    pending: Block | None = None  # the last shell block, while only blank lines followed it
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if not fence:
            if line.strip():
                pending = None
            if line.startswith("#"):
                heading = line
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        body = "\n".join(lines[index + 1 : end])
        language, rest = fence.group(1), fence.group(2).split()
        if language in ("sh", "bash", "shell"):
            pending = Block(body, index + 1, heading, runs="no-run" not in rest)
            found.append(pending)
        elif pending is not None:
            pending.expected, pending.expected_language = body, language
            pending = None
        index = end + 1
    return found


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _squash_all(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _squash_runs(text: str) -> str:
    return " ".join(text.split())


def matches(expected: str, actual: str, language: str) -> bool:
    """True when `actual` is what `expected` shows, `…` standing for anything."""
    squash = _squash_all if language == "json" else _squash_runs
    pattern = ".*?".join(re.escape(part) for part in squash(expected).split("…"))
    return re.fullmatch(pattern, squash(actual), flags=re.DOTALL) is not None


@dataclass
class Outcome:
    block: Block
    output: str


def run_page(blocks_to_run: list[Block], workdir: Path, env: dict[str, str], timeout: float = 240) -> list[Outcome]:
    """Run the blocks in one bash process (state carries over); stop every process it started, by process group."""
    port = free_port()
    parts = ["set -e"]  # stop at the first failing command; pipelines fail as in a reader's shell (by their last)
    for number, block in enumerate(blocks_to_run):
        parts.append(f"printf '\\n{_MARK.format(number)}\\n'")
        parts.append(block.code.replace(DOC_PORT, port))
    parts.append(f"printf '\\n{_MARK.format('end')}\\n'")
    script = workdir / "examples.sh"
    script.write_text("\n".join(parts) + "\n", encoding="utf-8")
    process = subprocess.Popen(
        ["bash", str(script)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(process.pid)
        output, _ = process.communicate()
        output += f"\n(timed out after {timeout:.0f} s)"
    finally:
        _stop_group(process.pid)
    return _split(output, blocks_to_run, process.returncode)


def _stop_group(pgid: int) -> None:
    """SIGTERM the page's process group (the servers it started in the background), then SIGKILL stragglers."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _split(output: str, blocks_to_run: list[Block], status: int | None) -> list[Outcome]:
    outcomes = []
    pieces = re.split("\n\x1eblock-([0-9]+|end)\x1e\n", output)
    by_number = {pieces[i]: pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}
    for number, block in enumerate(blocks_to_run):
        if str(number) not in by_number:
            break
        text = by_number[str(number)]
        if str(number + 1) not in by_number and "end" not in by_number:
            text += f"\n(the block stopped the page: exit status {status})"
        outcomes.append(Outcome(block, text))
    return outcomes


def doc_environment(database_url: str, workdir: Path) -> dict[str, str]:
    """The reader's environment: the virtual environment's programs first, no ACCESSLEDGER_* of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLEDGER_")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["ACCESSLEDGER_DATABASE_URL"] = database_url
    env["COLUMNS"] = "200"
    (workdir / ".venv").symlink_to(Path(sys.prefix))
    (workdir / "docs").symlink_to(ROOT / "docs")  # examples name files such as docs/examples/*.yaml
    return env


def pages() -> list[Path]:
    """Every page whose examples run: the README, the guides of docs/ and the reference (a new page joins itself)."""
    guides = sorted((ROOT / "docs").glob("*.md"))
    return [ROOT / "README.md", *guides, *sorted((ROOT / "docs" / "reference").glob("*.md"))]


def served_now(database: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """The routes (METHOD, shape) the app serves and the commands the CLI has, now."""
    import typer

    from api.cli.main import app as cli_app
    from api.http.app import create_app
    from api.settings import Settings
    from tests.docs.reference import cli_commands, route_key

    settings = Settings(database_url=f"sqlite:///{database}", clock="manual", operator_token="op-token-for-examples")
    application = create_app(settings)
    try:
        paths = application.openapi()["paths"]
    finally:
        application.state.services.close()
    routes = {route_key(m.upper(), p) for p, item in paths.items() for m in item}
    return routes, set(cli_commands(typer.main.get_command(cli_app)))


def not_served_yet(heading: str, served: set[tuple[str, str]], commands: set[str]) -> bool:
    """True for a block under a route or command heading that the app does not have (yet)."""
    from tests.docs.reference import route_key

    route = _ROUTE.match(heading)
    if route:
        return route_key(route.group(1), route.group(2)) not in served
    command = _COMMAND.match(heading)
    return bool(command) and " ".join(command.group(1).split()) not in commands


# ------------------------------------------------------------------------------------- writing the shown output

_RANDOM_KEYS = frozenset({"token", "token_id", "owner_token", "hash", "prev_hash", "recorded_at", "request_id"})


def _blank_random(value):
    """Tokens, hashes and wall-clock times differ on every run: the doc shows them as `…`."""
    if isinstance(value, dict):
        return {k: ("…" if k in _RANDOM_KEYS and isinstance(v, str) else _blank_random(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_random(v) for v in value]
    return value


def shown(output: str) -> tuple[str, str]:
    """An output as a doc shows it: JSON lines with random values blanked and wrapped at 116 columns."""
    import json
    import textwrap

    raw = output.strip("\n").splitlines()
    try:
        values = [json.loads(line) for line in raw]
    except ValueError:  # not all JSON: compared as text, so shown exactly as printed
        return "\n".join(line.rstrip() for line in raw), "text"
    lines = []
    for value in values:
        text = json.dumps(_blank_random(value), ensure_ascii=False, separators=(", ", ": "))
        lines.append(textwrap.fill(text, 116, break_long_words=False, break_on_hyphens=False, subsequent_indent=" "))
    return "\n".join(lines), "json" if lines else "text"


def update(page: Path, database_url: str, replace: bool = False) -> None:
    """Write the output of every running block that shows none yet after it (for authors; review the result)."""
    import tempfile

    served, commands = served_now(Path(tempfile.mkdtemp()) / "routes.db")
    page_blocks = [b for b in blocks(page) if b.runs and not not_served_yet(b.heading, served, commands)]
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = run_page(page_blocks, Path(tmp), doc_environment(database_url, Path(tmp)))
    lines = page.read_text(encoding="utf-8").splitlines()
    for outcome in reversed(outcomes):
        block = outcome.block
        close = block.line + block.code.count("\n") + 1
        text, language = shown(outcome.output)
        if block.expected is not None:
            if replace and not matches(block.expected, outcome.output, block.expected_language):
                start = close + 1
                while not lines[start].startswith("```"):
                    start += 1
                end = start + 1 + block.expected.count("\n") + 1
                lines[start : end + 1] = [f"```{block.expected_language or language}", *text.splitlines(), "```"]
            continue
        if outcome.output.strip():
            lines[close + 1 : close + 1] = ["", f"```{language}", *text.splitlines(), "```"]
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{page}: {len(outcomes)} of {len(page_blocks)} blocks ran")


if __name__ == "__main__":
    update(Path(sys.argv[1]).resolve(), sys.argv[2] if len(sys.argv) > 2 else "", "--replace" in sys.argv)
