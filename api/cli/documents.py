"""Reading the documents that `replay what-if` and `assert` take: YAML or JSON, validated like the API's bodies.

YAML is read with PyYAML's safe loader (no tags, no objects), and without its timestamp rule, so an instant stays
the text it was written as and a failed assertion can be repeated exactly as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from api.cli.support import BadInput

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class _SafeLoader(yaml.SafeLoader):
    """The safe loader, keeping timestamps as strings."""


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_document(path: str, option: str) -> dict[str, Any]:
    """The mapping a YAML or JSON file holds; bad input (one line) when it cannot be read or is not a mapping."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise BadInput(f"{option} {path}: the file is larger than 16 MiB")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{option} {path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        value = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - _SafeLoader is yaml.SafeLoader without timestamps
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        raise BadInput(f"{option} {path}: not YAML or JSON{at}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(value, dict):
        raise BadInput(f"{option} {path}: expected a mapping at the top, e.g. {{assertions: [...]}}")
    return value


def validated(model: type[BaseModel], value: dict[str, Any], option: str, path: str) -> BaseModel:
    """`value` as `model`, or bad input naming the first wrong field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise BadInput(f"{option} {path}: {where}: {first['msg']}{more}") from None
