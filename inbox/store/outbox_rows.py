"""The outbox table's state machine: pending → sending (leased) → sent | failed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.models import Outbound
from inbox.store.engine import now
from inbox.store.tables import conversations, messages, outbox
from inbox.store.writes import record_event


def _due(stamp: float):  # type: ignore[no-untyped-def]
    return or_(
        and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= stamp),
        and_(outbox.c.state == "sending", outbox.c.lease_until < stamp),
    )


MAX_REFERENCES = 20


async def _thread_parents(
    conn: AsyncConnection, details: Sequence[Any]
) -> dict[int, tuple[str, tuple[str, ...]]]:
    """For each outbound message, the customer's latest earlier email it answers:
    ``(In-Reply-To, References)`` as RFC 5322 wants them (the parent's References plus
    the parent's own Message-ID)."""
    conversation_ids = {int(r.conversation_id) for r in details}
    parents: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for row in await conn.execute(
        select(messages.c.conversation_id, messages.c.id, messages.c.meta)
        .where(
            messages.c.conversation_id.in_(conversation_ids),
            messages.c.direction == "in",
            messages.c.thread_key.is_not(None),
        )
        .order_by(messages.c.id)
    ):
        parents.setdefault(int(row[0]), []).append((int(row[1]), row[2] or {}))
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    for r in details:
        earlier = [m for m in parents.get(int(r.conversation_id), []) if m[0] < int(r.message_id)]
        if not earlier:
            continue
        meta = earlier[-1][1]
        parent = str(meta.get("message_id", ""))
        chain = [*str(meta.get("references", "")).split(), parent]
        found[int(r.message_id)] = (parent, tuple(chain[-MAX_REFERENCES:]))
    return found


class OutboxRows:
    """Claims, completes and fails outbox rows; every claim is a lease, never a lock."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim_due(self, limit: int, lease_seconds: float) -> list[Outbound]:
        """Leases up to ``limit`` due rows, oldest first, so no other sender takes them."""
        stamp = now()
        due = _due(stamp)
        candidates = select(outbox.c.id).where(due).order_by(outbox.c.id).limit(limit)
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    update(outbox)
                    # The outer test is re-checked on the locked row: two senders never
                    # lease the same row, even where the sub-select saw the same candidates.
                    .where(outbox.c.id.in_(candidates.scalar_subquery()), due)
                    .values(
                        state="sending",
                        lease_until=stamp + lease_seconds,
                        attempts=outbox.c.attempts + 1,
                    )
                    .returning(outbox.c.id)
                )
            ).all()
            ids = [int(r[0]) for r in rows]
            if not ids:
                return []
            details = (
                await conn.execute(
                    select(
                        outbox.c.id,
                        outbox.c.message_id,
                        outbox.c.channel,
                        outbox.c.address,
                        outbox.c.conversation_id,
                        messages.c.text,
                        conversations.c.subject,
                        messages.c.author,
                        conversations.c.reference,
                    )
                    .join(messages, messages.c.id == outbox.c.message_id)
                    .join(conversations, conversations.c.id == outbox.c.conversation_id)
                    .where(outbox.c.id.in_(ids))
                    .order_by(outbox.c.id)
                )
            ).all()
            threads = await _thread_parents(conn, details)
        return [
            Outbound(
                outbox_id=int(r.id),
                message_id=int(r.message_id),
                channel=r.channel,
                address=r.address,
                text=r.text,
                reference=int(r.reference),
                author=r.author,
                subject=r.subject,
                in_reply_to=threads.get(int(r.message_id), ("", ()))[0],
                references=threads.get(int(r.message_id), ("", ()))[1],
            )
            for r in details
        ]

    async def attempts(self, outbox_id: int) -> int:
        """How many times the row was leased."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(outbox.c.attempts).where(outbox.c.id == outbox_id))
        return int(value or 0)

    async def mark_sent(self, deliveries: list[tuple[int, str]]) -> None:
        """Records deliveries ``(outbox_id, channel's id)``; those rows are never sent again."""
        if not deliveries:
            return
        stamp = now()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == bindparam("row_id"))
                .values(
                    state="sent",
                    sent_external_id=bindparam("external_id"),
                    sent_at=stamp,
                    lease_until=None,
                ),
                [{"row_id": row_id, "external_id": ext} for row_id, ext in deliveries],
            )

    async def mark_retry(self, outbox_id: int, error: str, delay: float) -> None:
        """Puts the row back for another try after ``delay`` seconds."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id)
                .values(
                    state="pending",
                    next_attempt_at=now() + delay,
                    last_error=error,
                    lease_until=None,
                )
            )

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        """Gives up on the row and says why on its conversation."""
        async with self.engine.begin() as conn:
            conversation_id = await conn.scalar(
                select(outbox.c.conversation_id).where(outbox.c.id == outbox_id)
            )
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id)
                .values(state="failed", last_error=error, lease_until=None)
            )
            if conversation_id is not None:
                await record_event(
                    conn,
                    int(conversation_id),
                    "delivery_failed",
                    "outbox",
                    {"outbox_id": outbox_id, "error": error},
                )
