"""Help screens in the usual style: `--tenant TENANT`, `FILE`, and flags with no value shown; typer 0.29 prints
type placeholders such as `<str>` and `<bool>` instead, which read as if they were to be typed."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption


def _option_value(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return self.metavar
    if self.is_flag or self.count:
        return None
    long_names = [name for name in self.opts if name.startswith("--")]
    label = (long_names[0][2:] if long_names else self.name or "value").replace("-", "_").upper()
    return f"{label}..." if self.nargs != 1 else label


def _argument_value(self: Any, ctx: Any) -> str | None:
    return self.metavar or (self.name or "value").upper()


def _option_metavar(self: Any, ctx: Any, *args: Any, **kwargs: Any) -> str:
    return _option_value(self, ctx) or ""


def install_plain_help() -> None:
    """Name each option's value after the option; show nothing for flags. Typer's help code differs between its
    releases: newer ones ask `display_type_rich`, older ones `make_metavar`."""
    if hasattr(TyperOption, "display_type_rich"):
        TyperOption.display_type_rich = _option_value  # type: ignore[method-assign]
        TyperArgument.display_type_rich = _argument_value  # type: ignore[method-assign]
    else:
        TyperOption.make_metavar = _option_metavar  # type: ignore[method-assign]
