"""The one request for a rating a conversation gets, at its first resolution."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.store.tables import events
from inbox.store.writes import queue_outbound, record_event

ASKED = "csat_requested"


async def ask_for_rating(
    conn: AsyncConnection,
    conversation_id: int,
    channel: str,
    address: str,
    subject: str,
    text: str,
    actor: str,
) -> bool:
    """Asks the customer for a rating on their channel, once per conversation (a reopened
    and resolved again conversation is not asked again); True if it asked now."""
    asked = await conn.scalar(
        select(events.c.id).where(
            events.c.conversation_id == conversation_id, events.c.kind == ASKED
        )
    )
    if asked is not None:
        return False
    message_id = await queue_outbound(
        conn,
        conversation_id=conversation_id,
        channel=channel,
        address=address,
        text=text,
        author="bot",
        kind="csat",
        subject=subject,
    )
    await record_event(conn, conversation_id, ASKED, actor, {"message_id": message_id})
    return True
