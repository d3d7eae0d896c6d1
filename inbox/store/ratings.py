"""The one request for a rating a conversation gets, at its first resolution."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.config.settings import ContactSettings
from inbox.store.contact_policy import csat_hold, note_suppressed
from inbox.store.engine import now
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
    policy: ContactSettings,
) -> bool:
    """Asks the customer for a rating on their channel, once per conversation (a reopened
    and resolved again conversation is not asked again) and as the contact policy allows
    (a request it holds back is an event with the rule); True if it asked now."""
    asked = await conn.scalar(
        select(events.c.id).where(
            events.c.conversation_id == conversation_id, events.c.kind == ASKED
        )
    )
    if asked is not None:
        return False
    held = await csat_hold(conn, conversation_id, channel, policy, now())
    if held:
        await note_suppressed(conn, conversation_id, "csat", held, actor)
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
