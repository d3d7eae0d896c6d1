"""Reads typed values from parsed TOML, naming the full key path in every error.

``read_section`` reads a whole settings dataclass: each field by its name and type
annotation, with the dataclass default for an absent key and the field's ``Rule`` checked.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

from inbox.config.rules import Rule
from inbox.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class TableReader:
    """Reads typed values from one TOML table, naming the key path in every error."""

    def __init__(self, table: Any, path: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{path or 'config'}: must be a table")
        self.table: dict[str, Any] = table
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: Any) -> Any:
        """The raw value (marked as read), or ``default``."""
        self.seen.add(name)
        return self.table.get(name, default)

    def string(self, name: str, default: str | None = None, *, allow_empty: bool = False) -> str:
        value = self.get(name, default)
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise ConfigError(f"{self.key(name)}: must be a non-empty string")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.key(name)}: must be a number")
        if value < minimum:
            raise ConfigError(f"{self.key(name)}: must be at least {minimum}")
        return float(value)

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)}: must be an integer")
        if value < minimum:
            raise ConfigError(f"{self.key(name)}: must be at least {minimum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: must be true or false")
        return value

    def strings(
        self, name: str, default: list[str] | None = None, *, non_empty: bool
    ) -> tuple[str, ...]:
        value = self.get(name, default if default is not None else [])
        if not isinstance(value, list) or (non_empty and not value):
            raise ConfigError(
                f"{self.key(name)}: must be a non-empty list"
                if non_empty
                else f"{self.key(name)}: must be a list"
            )
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{self.key(name)}[{i}]: must be a non-empty string")
        return tuple(value)

    def table_of(self, name: str) -> TableReader:
        return TableReader(self.get(name, {}), self.key(name))

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key")


def table_list(
    raw: Any, path: str, *, non_empty: bool = False, one_table_ok: bool = False
) -> list[TableReader]:
    """``[[path]]`` tables, each read with its index in the key path."""
    if one_table_ok and isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or (non_empty and not raw):
        size = "a non-empty" if non_empty else "a"
        raise ConfigError(f"{path}: must be {size} list of [[{path}]] tables")
    return [TableReader(entry, f"{path}[{i}]") for i, entry in enumerate(raw)]


class _Kind(enum.Enum):
    """How a field's value is read from the file, by its type annotation."""

    TEXT = "text"
    CHOICE = "choice"
    FLAG = "flag"
    WHOLE = "whole"
    NUMBER = "number"
    PATH = "path"
    OPTIONAL_PATH = "optional path"  # "" or absent: None
    TEXTS = "texts"
    GIVEN = "given"  # no key of its own: the caller passes the value


@dataclass(frozen=True)
class _Field:
    """One field of a settings dataclass, as the reader sees it."""

    name: str
    kind: _Kind
    rule: Rule
    default: Any  # the dataclass default; MISSING when there is none
    choices: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.rule.key or self.name


def _kind(hint: Any) -> tuple[_Kind, tuple[str, ...]]:
    """The reading of a bare annotation, and its allowed values for a Literal."""
    simple = {str: _Kind.TEXT, bool: _Kind.FLAG, int: _Kind.WHOLE, float: _Kind.NUMBER}
    if hint in simple:
        return simple[hint], ()
    if hint is Path:
        return _Kind.PATH, ()
    if hint == Path | None:
        return _Kind.OPTIONAL_PATH, ()
    if get_origin(hint) is Literal:
        return _Kind.CHOICE, get_args(hint)
    if get_origin(hint) is tuple and get_args(hint)[1:] == (Ellipsis,):
        item, choices = _kind(get_args(hint)[0])
        if item in (_Kind.TEXT, _Kind.CHOICE):
            return _Kind.TEXTS, choices
    return _Kind.GIVEN, ()


@functools.cache
def _fields(cls: type[DataclassInstance]) -> tuple[_Field, ...]:
    hints = get_type_hints(cls, include_extras=True)
    out: list[_Field] = []
    for f in dataclasses.fields(cls):
        hint, rules = hints[f.name], [Rule()]
        if get_origin(hint) is Annotated:
            hint, *extras = get_args(hint)
            rules = [extra for extra in extras if isinstance(extra, Rule)] or rules
        kind, choices = _kind(hint)
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        out.append(_Field(f.name, kind, rules[0], default, choices))
    return tuple(out)


def default_of(cls: type[DataclassInstance], name: str) -> Any:
    """The default of the field ``name`` of the settings dataclass ``cls``."""
    return next(f.default for f in _fields(cls) if f.name == name)


def read_section(
    cls: type[T],
    r: TableReader,
    *,
    base: Path | None = None,
    given: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    finish: bool = True,
) -> T:
    """The dataclass ``cls`` read from ``r`` key by key, by each field's name and type.

    An absent key takes the dataclass default (or one of ``defaults``, which depend on
    where the table is); ``given`` fields are not keys of the table. ``base`` anchors
    relative paths. With ``finish``, an unknown key is an error.
    """
    values: dict[str, Any] = dict(given or {})
    defaults = defaults or {}
    later: list[_Field] = []
    for f in _fields(cls):
        if f.name in values:
            continue
        if not f.rule.in_file:
            values[f.name] = f.default
            continue
        if f.kind is _Kind.GIVEN:
            raise TypeError(f"{cls.__name__}.{f.name}: no reading for its type; pass it")
        if f.rule.default_from is not None and f.name not in defaults:
            later.append(f)
            continue
        values[f.name] = _value(r, f, defaults.get(f.name, f.default), base)
    for f in later:
        assert f.rule.default_from is not None
        values[f.name] = _value(r, f, f.rule.default_from(values), base)
    if finish:
        r.finish()
    return cls(**values)


def _value(r: TableReader, f: _Field, default: Any, base: Path | None) -> Any:
    """One field's value: read by its kind, tidied, capped and checked."""
    if default is dataclasses.MISSING:
        default = None  # an absent key is then reported like a value of the wrong type
    value = _typed(r, f, default, base)
    rule = f.rule
    if rule.tidy is not None:
        value = rule.tidy(value)
    if rule.cap is not None:
        value = min(value, type(value)(rule.cap))
    where = r.key(f.key)
    if f.kind is _Kind.CHOICE and value not in f.choices:
        raise ConfigError(f"{where}: must be one of {', '.join(f.choices)}")
    problem = rule.check(value) if rule.check is not None else None
    if problem:
        raise ConfigError(f"{where}: {problem}")
    for i, item in enumerate(value if f.kind is _Kind.TEXTS else ()):
        problem = rule.each(item) if rule.each is not None else None
        if f.choices and item not in f.choices:
            problem = f"must be one of {', '.join(f.choices)}"
        if problem:
            raise ConfigError(f"{where}[{i}]: {problem}")
    return value


def _typed(r: TableReader, f: _Field, default: Any, base: Path | None) -> Any:
    """The raw value of ``f`` read as its type asks, with the reader's own messages."""
    rule, key = f.rule, f.key
    if rule.read is not None:
        return rule.read(r, key, default)
    if f.kind is _Kind.TEXT:
        empty_ok = rule.empty_ok or f.default == ""
        return r.string(key, default, allow_empty=empty_ok)
    if f.kind is _Kind.CHOICE:
        return r.string(key, default)
    if f.kind is _Kind.FLAG:
        return r.boolean(key, default)
    if f.kind is _Kind.WHOLE and rule.unit != 1:
        minimum = 0.0 if rule.minimum is None else rule.minimum
        return int(r.number(key, default / rule.unit, minimum=minimum) * rule.unit)
    if f.kind is _Kind.WHOLE:
        return r.integer(key, default, minimum=int(rule.minimum or 0))
    if f.kind is _Kind.NUMBER:
        return r.number(key, default, minimum=float(rule.minimum or 0.0))
    if f.kind in (_Kind.PATH, _Kind.OPTIONAL_PATH):
        if base is None:
            raise TypeError(f"{f.name}: a path needs the base folder to resolve it against")
        optional = f.kind is _Kind.OPTIONAL_PATH
        written = r.string(key, "" if default is None else str(default), allow_empty=optional)
        if optional and not written.strip():
            return None
        path = Path(written)
        return path if path.is_absolute() else base / path
    return r.strings(key, list(default) if default is not None else None, non_empty=rule.non_empty)
