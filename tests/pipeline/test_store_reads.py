"""A long read never keeps writers waiting on SQLite: reports, lists and searches read in
a deferred transaction (one snapshot, no lock) while every write still queues up with
BEGIN IMMEDIATE."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, insert, select

from inbox.config.settings import Settings
from inbox.store.engine import reading
from inbox.store.tables import contacts
from tests.support.tickets import migrated_engine


async def test_a_writer_goes_ahead_while_a_read_is_open(settings: Settings) -> None:
    engine = await migrated_engine(settings)
    row = {"uid": "u1", "name": "Ann", "tier": "standard", "created_at": time.time()}
    try:
        async with reading(engine) as reader:
            before = int(await reader.scalar(select(func.count()).select_from(contacts)) or 0)

            async def write() -> None:
                async with engine.begin() as conn:
                    await conn.execute(insert(contacts).values(**row))

            await asyncio.wait_for(write(), timeout=5)  # not after the 30 s busy timeout
            # The read keeps its snapshot; a new read sees the write.
            assert await reader.scalar(select(func.count()).select_from(contacts)) == before
        async with reading(engine) as later:
            assert await later.scalar(select(func.count()).select_from(contacts)) == before + 1
    finally:
        await engine.dispose()
