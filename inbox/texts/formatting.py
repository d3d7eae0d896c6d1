"""Filling a text's placeholders by name, safely.

A text (shipped, or a shop's own from config.toml) is parsed as a template once; the
values put into it are never parsed again. So a customer's name or subject with braces
in it comes out exactly as written, and no template can reach an attribute, an index or
a format spec (``{reference.__class__}``, ``{0}``, ``{count:>99999}`` are refused).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Mapping

_PARSER = string.Formatter()


def _pieces(template: str) -> Iterator[tuple[str, str | None]]:
    """``(literal text, placeholder name or None)`` in order; ValueError for a template
    that is not plain text with ``{name}`` placeholders."""
    for literal, name, spec, conversion in _PARSER.parse(template):
        if name is not None:
            if not name.isidentifier():
                raise ValueError(f"'{{{name}}}' is not a placeholder: use {{name}}, a plain word")
            if spec or conversion:
                raise ValueError(f"'{{{name}}}' has a format: write just {{{name}}}")
        yield literal, name


def placeholders_of(template: str) -> frozenset[str]:
    """The names of the template's placeholders; ValueError for a malformed template
    (a lone brace: write ``{{`` or ``}}`` for a brace itself)."""
    return frozenset(name for _literal, name in _pieces(template) if name is not None)


def fill(
    template: str, values: Mapping[str, str], literal: Callable[[str], str] = str
) -> list[str]:
    """The template's parts with each placeholder replaced by its value, as is (values
    are never templates); ``literal`` treats the template's own text (escapes it, for
    HTML). A placeholder without a value is a KeyError."""
    parts: list[str] = []
    for text, name in _pieces(template):
        if text:
            parts.append(literal(text))
        if name is not None:
            parts.append(values[name])
    return parts
