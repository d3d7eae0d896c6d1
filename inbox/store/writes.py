"""Writes shared by the worker, the desk and the outbox: audit events and outbound messages."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.store.engine import now
from inbox.store.tables import events, messages, outbox


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
    stamp = now()
    message_id = (
        await conn.execute(
            insert(messages)
            .values(
                conversation_id=conversation_id,
                direction="out",
                channel=channel,
                external_id=f"out:{uuid.uuid4().hex}",
                author=author,
                agent_id=agent_id,
                internal=internal,
                subject=subject,
                text=text,
                created_at=stamp,
            )
            .returning(messages.c.id)
        )
    ).scalar_one()
    await conn.execute(
        insert(outbox).values(
            message_id=message_id,
            conversation_id=conversation_id,
            channel=channel,
            address=address,
            kind=kind,
            state="pending",
            attempts=0,
            next_attempt_at=stamp,
            created_at=stamp,
            # Staff messages carry their own subject, not the customer's thread's.
            subject=subject if internal else None,
        )
    )
    return int(message_id)


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
    stamp = now()
    await conn.execute(
        insert(outbox).values(
            message_id=None,
            conversation_id=conversation_id,
            channel=channel,
            address=address,
            kind="service",
            state="pending",
            attempts=0,
            next_attempt_at=stamp,
            created_at=stamp,
            text=text,
            subject=subject,
        )
    )
