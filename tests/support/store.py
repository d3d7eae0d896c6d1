"""Read-only SQL on the store the product writes, for the tests' assertions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from inbox.config.settings import Settings
from tests.support.backends import postgres_rows


@dataclass
class Store:
    """Read-only SQL on the store (SQLite file or PostgreSQL), for assertions; the SQL uses
    ``?`` placeholders."""

    url: str

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if not self.url.startswith("sqlite"):
            return postgres_rows(self.url, sql, args)
        conn = sqlite3.connect(self.url.split("///", 1)[1], timeout=30)
        try:
            return list(conn.execute(sql, args).fetchall())
        finally:
            conn.close()

    def count(self, sql: str, *args: Any) -> int:
        return int(self.rows(sql, *args)[0][0])


def store_of(settings: Settings) -> Store:
    return Store(settings.store.url)


def assert_each_stored_once(store: Store, count: int) -> None:
    """Every message stored once, one ticket each, one first answer each: its
    acknowledgement, or the bot's answer in its place."""
    assert store.count("SELECT count(*) FROM messages WHERE direction='in'") == count
    assert (
        store.count("SELECT count(DISTINCT external_id) FROM messages WHERE direction='in'")
        == count
    )
    assert store.count("SELECT count(*) FROM conversations") == count
    # One first answer per ticket: nobody got two answers for one question.
    first = "FROM outbox WHERE kind IN ('acknowledgement', 'bot_answer')"
    assert store.count(f"SELECT count(*) {first}") == count
    assert store.count(f"SELECT count(DISTINCT conversation_id) {first}") == count
