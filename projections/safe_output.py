"""R-X7: what the ledger writes out is safe to open.

- CSV: a cell that begins with `=`, `+`, `-`, `@`, TAB or CR is prefixed with `'`, so a spreadsheet shows it as
  text instead of running it as a formula (the JSON Lines export stays exact: it is what verification reads).
- Terminals: control characters (C0, DEL, C1) and bidirectional overrides read from the database are shown as
  `\\uXXXX` escapes, never written raw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_text(text: str) -> str:
    """`text` with every control or bidi-override character written as a visible `\\uXXXX` escape."""
    return CONTROL.sub(_escape, text)


def terminal_json(text: str) -> str:
    """JSON text with such characters escaped: still the same JSON value (they can only occur inside strings,
    where `\\uXXXX` is an exact escape), and safe on a terminal."""
    return CONTROL.sub(lambda m: m.group() if m.group() == "\n" else _escape(m), text)


def terminal_safe(value: Any) -> Any:
    """Every string inside `value` (dicts, lists, tuples) as `terminal_text` gives it."""
    if isinstance(value, str):
        return terminal_text(value)
    if isinstance(value, dict):
        return {terminal_safe(k): terminal_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(terminal_safe(v) for v in value)
    return value
