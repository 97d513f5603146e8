"""The command line's two consoles and its one way to fail: one line on standard error and an exit status."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

EXIT_BAD_INPUT = 2
# Piped output gets room for the widest row, so tables come out unfolded for grep and for pasting into documents.
stdout = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 1000)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)


class BadInput(Exception):
    """Something the user typed or configured does not work; the message is the one line they see."""


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on standard error, then the exit status (2: bad input)."""
    stderr.print(f"accessledger: error: {message}", markup=False)
    raise typer.Exit(code)
