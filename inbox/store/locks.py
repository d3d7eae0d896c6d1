"""Serialisation where the store's engines differ.

SQLite runs one write transaction at a time (every transaction starts with BEGIN
IMMEDIATE), so nothing here does anything on it. PostgreSQL runs them side by side at READ
COMMITTED; the few places whose correctness rests on reading then writing take a lock:

- ``serialize(conn, name)``: a transaction-scoped advisory lock, for work that decides
  across many rows (ingest: who is this customer, is this a duplicate, which conversation).
- ``lock_conversation(conn, id)``: the conversation's row, for an agent's action on it;
  ingest updates the same row when a message joins, so the two are ordered.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.store.tables import conversations


def _is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.blake2b(f"inbox:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def serialize(conn: AsyncConnection, name: str) -> None:
    """Waits until no other transaction holds ``name``; held until this one ends."""
    if _is_postgresql(conn):
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


async def lock_conversation(conn: AsyncConnection, conversation_id: int) -> None:
    """Locks the conversation's row until this transaction ends."""
    if _is_postgresql(conn):
        await conn.execute(
            select(conversations.c.id)
            .where(conversations.c.id == conversation_id)
            .with_for_update()
        )
