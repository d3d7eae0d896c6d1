"""The bot's part of a conversation as rows: which conversations it holds, which articles
it answered with, and the one way a person takes a conversation over from it.

The bot speaks only in conversations it holds (``bot_state`` holding, no assignee). An
agent who takes, assigns or answers such a conversation ends that for good: the bot never
speaks in it again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BotState
from inbox.models import Priority
from inbox.store.engine import now
from inbox.store.tables import contacts, conversations, events
from inbox.store.writes import record_event

ANSWERED = "bot_answered"  # the audit event of a bot answer (article, version, evidence)
HANDED_OFF = "bot_handed_off"


@dataclass
class BotConversation:
    """A conversation the bot holds, with the articles it already answered with."""

    conversation_id: int
    reference: int
    channel: str
    address: str
    subject: str
    team: str
    priority: Priority
    articles: list[str]  # in the order the bot answered with them
    language: str = ""  # the customer's, as kept on their contact ("": English)


async def held(conn: AsyncConnection, ids: Collection[int]) -> dict[int, BotConversation]:
    """Those of ``ids`` the bot holds right now, by id (locked on PostgreSQL)."""
    if not ids:
        return {}
    c = conversations.c
    rows = (
        await conn.execute(
            select(
                c.id,
                c.reference,
                c.channel,
                c.address,
                c.subject,
                c.team,
                c.priority,
                contacts.c.language,
            )
            .join(contacts, contacts.c.id == c.contact_id)
            .where(
                c.id.in_(sorted(ids)),
                c.bot_state == BotState.HOLDING.value,
                c.assignee_id.is_(None),
            )
            .with_for_update(of=conversations)
        )
    ).all()
    found = {
        int(r.id): BotConversation(
            int(r.id),
            int(r.reference),
            r.channel,
            r.address,
            r.subject,
            r.team,
            Priority(int(r.priority)),
            [],
            str(r.language or ""),
        )
        for r in rows
    }
    if found:
        answered = await conn.execute(
            select(events.c.conversation_id, events.c.data)
            .where(events.c.conversation_id.in_(sorted(found)), events.c.kind == ANSWERED)
            .order_by(events.c.id)
        )
        for conversation_id, data in answered:
            found[int(conversation_id)].articles.append(str(data.get("article", "")))
    return found


async def set_bot_state(conn: AsyncConnection, conversation_id: int, state: BotState) -> None:
    """Records the bot's part in one conversation."""
    await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(bot_state=state.value, updated_at=now())
    )


async def take_from_bot(
    conn: AsyncConnection, conversation_id: int, actor: str, reason: str = ""
) -> bool:
    """A person takes over a conversation the bot holds (True if it did hold it): it joins
    its team's queue, and the bot stays silent in it from now on."""
    taken = await conn.execute(
        update(conversations)
        .where(
            conversations.c.id == conversation_id,
            conversations.c.bot_state == BotState.HOLDING.value,
        )
        .values(bot_state=BotState.HANDED_OFF.value)
    )
    if taken.rowcount != 1:
        return False
    why = reason or f"{actor} took it over"
    await record_event(conn, conversation_id, HANDED_OFF, actor, {"reason": why})
    return True
