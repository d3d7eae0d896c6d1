"""Trying a failed delivery again, by hand: the row goes back to pending, due now, with its
back-off and its give-up clock started afresh.

Only a row in state ``failed`` is put back, by one conditional UPDATE: two people pressing
"Try again" at once queue it once (the second finds it pending and is told so).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict, NotFound
from inbox.store.engine import now
from inbox.store.tables import conversations, outbox
from inbox.store.writes import record_event


@dataclass(frozen=True)
class FailedRow:
    """A delivery given up on, as the command line lists it."""

    outbox_id: int
    channel: str
    address: str
    kind: str
    reference: int | None  # its conversation's ticket number; None for a service answer
    error: str


@dataclass(frozen=True)
class Retried:
    """A row put back: its conversation (None for a service answer) and why it had failed."""

    outbox_id: int
    conversation_id: int | None
    message_id: int | None
    error: str


async def retry_failed(conn: AsyncConnection, outbox_id: int, actor: str) -> Retried:
    """Puts the failed row ``outbox_id`` back for the sender, due now, and records who
    asked on its conversation. ``last_error`` stays until the next try replaces it, and
    ``parts_sent`` too (a long answer goes on after the parts delivered). NotFound for no
    such row; Conflict for a row that is not failed (pending, sending or sent)."""
    stamp = now()
    found = (
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.state == "failed")
            .values(
                state="pending",
                next_attempt_at=stamp,
                attempts=0,
                lease_until=None,
                delay_alerted_at=None,
                retried_at=stamp,
            )
            .returning(outbox.c.conversation_id, outbox.c.message_id, outbox.c.last_error)
        )
    ).first()
    if found is None:
        state = await conn.scalar(select(outbox.c.state).where(outbox.c.id == outbox_id))
        if state is None:
            raise NotFound(f"no outbox row {outbox_id}")
        raise Conflict(
            f"outbox row {outbox_id} is {state}, not failed: only a failed delivery can be "
            "tried again"
        )
    retried = Retried(
        outbox_id=outbox_id,
        conversation_id=None if found.conversation_id is None else int(found.conversation_id),
        message_id=None if found.message_id is None else int(found.message_id),
        error=found.last_error or "",
    )
    if retried.conversation_id is not None:
        await record_event(
            conn,
            retried.conversation_id,
            "delivery_retried",
            actor,
            {"outbox_id": outbox_id, "message_id": retried.message_id, "error": retried.error},
        )
    return retried


async def retry_delivery(engine: AsyncEngine, outbox_id: int, actor: str) -> Retried:
    """``retry_failed`` in a transaction of its own (the command line's way in)."""
    async with engine.begin() as conn:
        return await retry_failed(conn, outbox_id, actor)


async def failed_rows(engine: AsyncEngine, limit: int = 100) -> list[FailedRow]:
    """The failed deliveries, oldest first, at most ``limit``."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.channel,
                    outbox.c.address,
                    outbox.c.kind,
                    conversations.c.reference,
                    outbox.c.last_error,
                )
                .outerjoin(conversations, conversations.c.id == outbox.c.conversation_id)
                .where(outbox.c.state == "failed")
                .order_by(outbox.c.id)
                .limit(limit)
            )
        ).all()
    return [
        FailedRow(
            outbox_id=int(r.id),
            channel=r.channel,
            address=r.address,
            kind=r.kind,
            reference=None if r.reference is None else int(r.reference),
            error=r.last_error or "",
        )
        for r in rows
    ]
