"""The planner's statistics, kept fresh: the desk's list and search choose their indexes
from them (migration 0023's list order is used only once the planner knows the table is
large).

SQLite keeps none until ``ANALYZE`` runs, and nothing runs it for an application: a store
never analyzed plans a 50,000-conversation list as a sort (35 ms instead of 0.1 ms). This
analyzes it at start and every few hours: conversations whole, the larger tables by a
bounded sample (``analysis_limit``). PostgreSQL's autovacuum does
this itself; when a server runs with it off, this says so and analyzes too.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.waiting import nap

log = logging.getLogger(__name__)
EVERY_SECONDS = 6 * 3600.0
ANALYSIS_LIMIT = 1000  # SQLite: rows sampled per index


async def analyze(engine: AsyncEngine) -> None:
    """Refreshes the statistics once."""
    if engine.dialect.name == "sqlite":
        async with engine.begin() as conn:
            # The desk's lists weigh an index by how many rows a team or a status holds:
            # a sample of a thousand rows took each team for a thousand conversations and
            # chose to sort 25,000. Conversations are read whole (37 ms at 50,000);
            # the larger tables are sampled.
            await conn.execute(text("PRAGMA analysis_limit = 0"))
            await conn.execute(text("ANALYZE conversations"))
            await conn.execute(text(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}"))
            for table in await _sqlite_tables(conn):
                if table != "conversations":
                    await conn.execute(text(f'ANALYZE "{table}"'))
        return
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))


async def _sqlite_tables(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(
        text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    )
    return [str(r[0]) for r in rows]


async def autovacuum_is_on(engine: AsyncEngine) -> bool:
    """PostgreSQL's autovacuum setting (SQLite has none: True)."""
    if engine.dialect.name != "postgresql":
        return True
    async with engine.connect() as conn:
        return str(await conn.scalar(text("SHOW autovacuum"))).lower() == "on"


async def keep_statistics(engine: AsyncEngine, stopping: asyncio.Event) -> None:
    """Analyzes at start and every ``EVERY_SECONDS`` until ``stopping``, where nothing
    else does; a failure is logged and tried again at the next turn."""
    if not await autovacuum_is_on(engine):
        log.warning(
            "PostgreSQL runs with autovacuum off: the planner's statistics go stale as the "
            "store grows; this process analyzes every %.0f hours (turn autovacuum on)",
            EVERY_SECONDS / 3600,
        )
    elif engine.dialect.name != "sqlite":
        return
    idle = asyncio.Event()
    while not stopping.is_set():
        try:
            await analyze(engine)
        except Exception:
            log.exception("could not refresh the store's statistics")
        await nap(idle, stopping, EVERY_SECONDS)
