"""The language a customer is written to in, as kept on their contact."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.store.tables import contacts, conversations


async def conversation_language(conn: AsyncConnection, conversation_id: int) -> str:
    """The language kept on the customer of a conversation ("": none known yet)."""
    kept = await conn.scalar(
        select(contacts.c.language)
        .join(conversations, conversations.c.contact_id == contacts.c.id)
        .where(conversations.c.id == conversation_id)
    )
    return str(kept or "")
