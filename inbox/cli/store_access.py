"""The store as a command uses it: its schema brought up to date first, its connections
closed when the command is done with it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings
from inbox.store.engine import create_engine, migrate


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The configured store, migrated; disposed of on the way out, come what may."""
    engine = create_engine(settings.store.url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()
