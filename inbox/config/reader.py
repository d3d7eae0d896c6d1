"""Reads typed values from parsed TOML, naming the full key path in every error."""

from __future__ import annotations

from typing import Any

from inbox.errors import ConfigError


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
