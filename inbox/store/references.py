"""A ticket reference a customer holds, back to its conversation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.store.tables import conversation_refs


async def conversation_of_reference(engine: AsyncEngine, reference: int) -> int | None:
    """The conversation ``reference`` (or an alias of it, after a merge) names, if any."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(conversation_refs.c.conversation_id).where(
                conversation_refs.c.reference == reference
            )
        )
    return None if found is None else int(found)
