"""What the typed reader checks on a setting beyond its type, declared on the field.

A field says it with ``Annotated``::

    batch_size: Annotated[int, Rule(minimum=1)] = 512

The dataclass default is the only default; the reader takes it when the key is absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

# A check returns the error (the key is put in front of it), or None when the value is good.
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Rule:
    """How one setting is read and what it must satisfy."""

    minimum: float | None = None  # None: the reader's own floor (0)
    cap: float | None = None  # larger values are taken as this (a limit of the far side)
    non_empty: bool = False  # a list that needs at least one entry
    empty_ok: bool = False  # a string that may be "" although its default is not
    in_file: bool = True  # False: not a key of the file; the default (or the caller) sets it
    key: str = ""  # the key in the file, when it is not the field's name
    unit: int = 1  # the file gives the value in units of this many (MB for bytes)
    # Reads the value itself, for a key the types cannot say: (reader, key, default) -> value.
    read: Callable[[Any, str, Any], Any] | None = None
    tidy: Callable[[Any], Any] | None = None  # applied before the checks
    check: Check | None = None
    each: Check | None = None  # applied to every item of a list, naming its index
    # A default that depends on other keys of the same table (read before it).
    default_from: Callable[[Mapping[str, Any]], Any] | None = None


def at_most(limit: float, message: str = "") -> Check:
    """A check that the value is at most ``limit``."""

    def check(value: Any) -> str | None:
        return None if value <= limit else (message or f"must be at most {limit}")

    return check


def matching(pattern: str, message: str) -> Check:
    """A check that the whole value matches ``pattern``; ``{value!r}`` may be in the message."""

    def check(value: Any) -> str | None:
        return None if re.fullmatch(pattern, value) else message.format(value=value)

    return check


def made_of(allowed: frozenset[str], message: str) -> Check:
    """A check that the value uses only the characters in ``allowed``."""

    def check(value: Any) -> str | None:
        return None if set(value) <= allowed else message

    return check


def lower_all(values: tuple[str, ...]) -> tuple[str, ...]:
    """Every entry in lower case (phrases and language codes are matched so)."""
    return tuple(value.lower() for value in values)


def without_trailing_slash(url: str) -> str:
    """``url`` without the slash a base URL is often written with."""
    return url.rstrip("/")


Similarity = Annotated[float, Rule(minimum=-1.0)]  # a cosine: -1..1
AtLeastOne = Annotated[int, Rule(minimum=1)]
LowerCase = Annotated[tuple[str, ...], Rule(tidy=lower_all)]  # matched without case
