"""Writes shared by the worker, the desk and the outbox: audit events and outbound messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.store.engine import now
from inbox.store.outbound import OutboundDraft, queue_drafts
from inbox.store.tables import events


async def record_event(
    conn: AsyncConnection, conversation_id: int, kind: str, actor: str, data: dict[str, Any]
) -> None:
    """Appends one audit event."""
    await conn.execute(
        insert(events).values(
            conversation_id=conversation_id, kind=kind, actor=actor, data=data, created_at=now()
        )
    )


async def queue_outbound(
    conn: AsyncConnection,
    *,
    conversation_id: int,
    channel: str,
    address: str,
    text: str,
    author: str,
    kind: str,
    agent_id: int | None = None,
    subject: str = "",
    internal: bool = False,
) -> int:
    """Stores an outbound message and its outbox row together; returns the message id.
    An ``internal`` one (an alert to staff) shows in the conversation as a note and is
    never part of what the customer can read."""
    draft = OutboundDraft(
        channel, address, text, kind, conversation_id, author, agent_id, subject, internal
    )
    (message_id,) = await queue_drafts(conn, [draft], now())
    assert message_id is not None  # a stored draft always has its message
    return message_id


async def queue_service_answer(
    conn: AsyncConnection,
    *,
    channel: str,
    address: str,
    text: str,
    subject: str = "",
    conversation_id: int | None = None,
) -> None:
    """Queues a bot's service answer (a command's reply, a link code): sent in order with
    the recipient's other answers, but not a message of any conversation."""
    draft = OutboundDraft(
        channel, address, text, "service", conversation_id, subject=subject, stored=False
    )
    await queue_drafts(conn, [draft], now())
