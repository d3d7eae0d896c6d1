"""Writes a configuration back to TOML (for tools that derive a config from another)."""

from __future__ import annotations

import json
from typing import Any


def _value(value: Any) -> str:
    # JSON strings, numbers, booleans and arrays of them are valid TOML values.
    return json.dumps(value, ensure_ascii=False)


def _table(lines: list[str], name: str, table: dict[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and not _is_tables(v)}
    if scalars or not table:
        lines.append(f"[{name}]")
        lines += [f"{k} = {_value(v)}" for k, v in scalars.items()]
    for key, value in table.items():
        if isinstance(value, dict):
            _table(lines, f"{name}.{key}", value)
        elif _is_tables(value):
            for entry in value:
                lines.append(f"[[{name}.{key}]]")
                lines += [f"{k} = {_value(v)}" for k, v in entry.items()]


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dumps(document: dict[str, Any]) -> str:
    """TOML text for a document of tables, arrays of tables and plain values."""
    lines: list[str] = []
    for key, value in document.items():
        if isinstance(value, dict):
            _table(lines, key, value)
        elif _is_tables(value):
            for entry in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_value(v)}" for k, v in entry.items()]
        else:
            lines.insert(0, f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"
