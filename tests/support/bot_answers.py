"""A bot answer set up through the store's own functions, where the bot's pipeline would.

Until the pipeline answers from the knowledge base by itself, the channel tests put its
result in the store directly: the customer's conversation marked as the bot holding it,
and the answer queued as an outbox row of kind ``bot_answer``.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.bot_words import BOT_ANSWER, BotState
from inbox.store.engine import now
from inbox.store.outbound import OutboundDraft, queue_drafts
from inbox.store.tables import conversations


async def conversation_of(engine: AsyncEngine, channel: str, address: str) -> int:
    """The id of the customer's latest conversation on ``(channel, address)``."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(conversations.c.id)
            .where(conversations.c.channel == channel, conversations.c.address == address)
            .order_by(conversations.c.id.desc())
            .limit(1)
        )
    assert found is not None, f"no conversation for {channel} {address}"
    return int(found)


async def set_bot_state(engine: AsyncEngine, conversation_id: int, state: BotState) -> None:
    """Marks the conversation as the pipeline does when the bot's part in it changes."""
    async with engine.begin() as conn:
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(bot_state=state)
        )


async def queue_bot_answer(
    engine: AsyncEngine,
    channel: str,
    address: str,
    text: str,
    state: BotState = BotState.HOLDING,
) -> int:
    """Puts the customer's latest conversation in ``state`` and queues ``text`` in it as
    a bot answer; returns the answer's message id."""
    conversation_id = await conversation_of(engine, channel, address)
    await set_bot_state(engine, conversation_id, state)
    draft = OutboundDraft(channel, address, text, BOT_ANSWER, conversation_id=conversation_id)
    async with engine.begin() as conn:
        (message_id,) = await queue_drafts(conn, [draft], now())
    assert message_id is not None
    return message_id
