"""Help screens in the usual style: `--tenant TENANT`, `FILE`, and flags with no value shown; typer 0.29 prints
type placeholders such as `<str>` and `<bool>` instead, which read as if they were to be typed."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption
from typer.main import get_click_type
from typer.models import ParameterInfo

# The string type of the click typer runs on (recent typer releases carry a click of their own).
_Text = type(get_click_type(annotation=str, parameter_info=ParameterInfo()))


class _PlainText(_Text):  # type: ignore[misc, valid-type]
    """Text whose help row names the argument only (`FILE`), without a `<str>` type column."""

    def get_metavar(self, param: Any, ctx: Any = None) -> str:
        return ""


PLAIN_TEXT = _PlainText()


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


_typer_argument_metavar = TyperArgument.make_metavar


def _argument_usage(self: Any, ctx: Any, *args: Any, **kwargs: Any) -> str:
    # typer writes a required argument as `{FILE}` in the usage line; the usual form is `FILE`.
    return _typer_argument_metavar(self, ctx, *args, **kwargs).replace("{", "").replace("}", "")


def install_plain_help() -> None:
    """Name each option's value after the option; show nothing for flags. Typer's help code differs between its
    releases: newer ones ask `display_type_rich`, older ones `make_metavar`."""
    TyperArgument.make_metavar = _argument_usage  # type: ignore[method-assign]
    if hasattr(TyperOption, "display_type_rich"):
        TyperOption.display_type_rich = _option_value  # type: ignore[method-assign]
        TyperArgument.display_type_rich = _argument_value  # type: ignore[method-assign]
    else:
        TyperOption.make_metavar = _option_metavar  # type: ignore[method-assign]
