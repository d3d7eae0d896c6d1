"""The store's engine: SQLAlchemy async, SQLite by default, schema by Alembic."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, exc, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from inbox.store.tables import conversation_refs

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 7_146_269_001  # an advisory-lock key of its own


READ_ONLY = "inbox_read_only"  # an execution option: this connection only reads


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only (reports, lists, searches): on SQLite its transaction
    takes no write lock; a write through it is a mistake and fails when it meets one."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        yield conn


def now() -> float:
    """Seconds since the epoch; every timestamp in the store uses this."""
    return time.time()


def create_engine(url: str) -> AsyncEngine:
    """An async engine; for SQLite, write-ahead log and write transactions that queue up."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and ":memory:" not in path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN IMMEDIATE can be issued:
            # a deferred transaction that reads, then writes, fails under concurrency.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay hot
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def on_begin(conn: Connection) -> None:
            # A read (``reading``) begins deferred: under the write-ahead log it sees one
            # snapshot and holds no lock, so a long report never keeps writers waiting.
            deferred = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes starting at once: one migrates, the others wait, then find
        # nothing left to do. (SQLite's BEGIN IMMEDIATE already serialises them.)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Brings the schema to the newest Alembic revision."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def highest_reference(engine: AsyncEngine) -> int:
    """The highest ticket reference the store knows (0 if none)."""
    async with engine.connect() as conn:
        value = await conn.scalar(select(func.max(conversation_refs.c.reference)))
    return int(value or 0)


def store_unreachable(err: BaseException) -> bool:
    """Whether ``err`` says the store could not be reached (a restart, a network cut),
    rather than that the data was wrong: such work is tried again later, not given up."""
    if isinstance(err, exc.DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(err, exc.InterfaceError | exc.OperationalError | OSError)
