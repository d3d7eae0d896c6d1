"""The outbox table's state machine: pending → sending (leased) → sent | failed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from inbox.bot_words import BOT_ANSWER, BotState, choice_texts
from inbox.models import MessageMeta, Outbound
from inbox.store.engine import now
from inbox.store.files import answer_files
from inbox.store.form_copies import AGENT_EMAIL_COPY
from inbox.store.tables import contacts, conversations, messages, outbox
from inbox.store.writes import record_event
from inbox.texts import Catalogue

_earlier = aliased(outbox)


@dataclass(frozen=True)
class RetryState:
    """A failed row's history: leases taken, seconds since it was queued (or last put
    back by hand), and whether supervisors were told it keeps failing."""

    attempts: int
    age: float
    alerted: bool


def _due(stamp: float):  # type: ignore[no-untyped-def]
    """Rows to send now: due, and first in their recipient's line. An answer waits while
    an earlier one to the same address is still unsent (backing off after a rate limit,
    say), so a customer reads answers in the order they were written."""
    first_in_line = ~exists().where(
        _earlier.c.channel == outbox.c.channel,
        _earlier.c.address == outbox.c.address,
        _earlier.c.state.in_(("pending", "sending")),
        _earlier.c.id < outbox.c.id,
    )
    return and_(
        or_(
            and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= stamp),
            and_(outbox.c.state == "sending", outbox.c.lease_until < stamp),
        ),
        first_in_line,
    )


MAX_REFERENCES = 20
# The attempt a lease counted, given back (a rate limit, a row handed back unsent).
_GIVE_BACK = case((outbox.c.attempts > 0, outbox.c.attempts - 1), else_=0)


async def _thread_parents(
    conn: AsyncConnection, details: Sequence[Any]
) -> dict[int, tuple[str, tuple[str, ...]]]:
    """For each outbound message, the customer's latest earlier email it answers:
    ``(In-Reply-To, References)`` as RFC 5322 wants them (the parent's References plus
    the parent's own Message-ID)."""
    details = [r for r in details if r.conversation_id is not None and r.message_id is not None]
    conversation_ids = {int(r.conversation_id) for r in details}
    parents: dict[int, list[tuple[int, MessageMeta]]] = {}
    for row in await conn.execute(
        select(messages.c.conversation_id, messages.c.id, messages.c.meta)
        .where(
            messages.c.conversation_id.in_(conversation_ids),
            messages.c.direction == "in",
            messages.c.thread_key.is_not(None),
        )
        .order_by(messages.c.id)
    ):
        parents.setdefault(int(row[0]), []).append((int(row[1]), MessageMeta.from_dict(row[2])))
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    for r in details:
        earlier = [m for m in parents.get(int(r.conversation_id), []) if m[0] < int(r.message_id)]
        if not earlier:
            continue
        meta = earlier[-1][1]
        parent = meta.message_id
        chain = [*meta.references.split(), parent]
        found[int(r.message_id)] = (parent, tuple(chain[-MAX_REFERENCES:]))
    return found


def _choices(
    kind: str, bot_state: str | None, texts: Catalogue, language: str | None
) -> tuple[str, ...]:
    """The buttons a row goes out with, in the customer's language: a bot answer's
    choices, read at send time, so an answer the customer (or an agent taking over) has
    overtaken offers none."""
    if kind == BOT_ANSWER and bot_state == BotState.HOLDING:
        return choice_texts(texts, language or "")
    return ()


class OutboxRows:
    """Claims, completes and fails outbox rows; every claim is a lease, never a lock."""

    def __init__(self, engine: AsyncEngine, texts: Catalogue | None = None) -> None:
        self.engine = engine
        self.texts = texts or Catalogue()  # the words of a bot answer's buttons

    async def claim_due(
        self, limit: int, lease_seconds: float, channels: Collection[str] | None = None
    ) -> list[Outbound]:
        """Leases up to ``limit`` due rows (of ``channels`` only, if given), oldest first,
        so no other sender takes them."""
        stamp = now()
        due = _due(stamp)
        if channels is not None:
            due = and_(due, outbox.c.channel.in_(list(channels)))
        candidates = (
            select(outbox.c.id)
            .where(due)
            .order_by(outbox.c.id)
            .limit(limit)
            # PostgreSQL: rows another sender is leasing right now are passed over.
            .with_for_update(skip_locked=True)
        )
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
                        outbox.c.parts_sent,
                        func.coalesce(outbox.c.text, messages.c.text).label("text"),
                        func.coalesce(outbox.c.subject, conversations.c.subject).label("subject"),
                        case(
                            (outbox.c.kind == AGENT_EMAIL_COPY, "agent"),
                            else_=func.coalesce(messages.c.author, "bot"),
                        ).label("author"),
                        func.coalesce(conversations.c.reference, 0).label("reference"),
                        outbox.c.kind,
                        conversations.c.bot_state,
                        contacts.c.language,
                    )
                    .outerjoin(messages, messages.c.id == outbox.c.message_id)
                    .outerjoin(conversations, conversations.c.id == outbox.c.conversation_id)
                    .outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
                    .where(outbox.c.id.in_(ids))
                    .order_by(outbox.c.id)
                )
            ).all()
            threads = await _thread_parents(conn, details)
            # The message's own files; an email copy of an answer (its own row, no
            # message) points at the ticket page, which links to them.
            files = await answer_files(
                conn, [int(r.message_id) for r in details if r.message_id], with_data=True
            )
        return [
            Outbound(
                outbox_id=int(r.id),
                message_id=int(r.message_id or 0),
                channel=r.channel,
                address=r.address,
                text=r.text,
                reference=int(r.reference),
                author=r.author,
                subject=r.subject,
                in_reply_to=threads.get(int(r.message_id or 0), ("", ()))[0],
                references=threads.get(int(r.message_id or 0), ("", ()))[1],
                parts_sent=int(r.parts_sent),
                choices=_choices(r.kind, r.bot_state, self.texts, r.language),
                files=files.get(int(r.message_id or 0), ()),
                language=r.language or "",
            )
            for r in details
        ]

    async def retry_state(self, outbox_id: int) -> RetryState:
        """How often and how long the row has been tried, and whether supervisors know.
        A row an agent tried again counts its age from then: it gets the whole retry
        window again, however long it sat failed."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        outbox.c.attempts,
                        func.coalesce(outbox.c.retried_at, outbox.c.created_at).label("since"),
                        outbox.c.delay_alerted_at,
                    ).where(outbox.c.id == outbox_id)
                )
            ).one()
        return RetryState(
            attempts=int(row.attempts or 0),
            age=max(0.0, now() - float(row.since)),
            alerted=row.delay_alerted_at is not None,
        )

    async def mark_sent(self, deliveries: list[tuple[int, str]]) -> None:
        """Records deliveries ``(outbox_id, channel's id)`` in one commit; those rows are
        never sent again."""
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

    async def release(self, outbox_ids: Collection[int]) -> None:
        """Hands leased rows back unsent (the pass ran out of lease time), without counting
        the attempt their lease took."""
        if not outbox_ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(outbox_ids)), outbox.c.state == "sending")
                .values(state="pending", lease_until=None, attempts=_GIVE_BACK)
            )

    async def mark_retry(
        self,
        outbox_id: int,
        error: str,
        delay: float,
        parts_sent: int | None = None,
        *,
        counted: bool = True,
    ) -> None:
        """Puts the row back for another try after ``delay`` seconds; ``parts_sent``
        records how far a long answer got, so the next try goes on from there. A try that
        is not ``counted`` (the channel asked us to wait) gives back the attempt its lease
        took, so it does not lengthen the back-off."""
        values: dict[str, Any] = {
            "state": "pending",
            "next_attempt_at": now() + delay,
            "last_error": error,
            "lease_until": None,
        }
        if parts_sent is not None:
            values["parts_sent"] = parts_sent
        if not counted:
            values["attempts"] = _GIVE_BACK
        async with self.engine.begin() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(**values))

    async def mark_delayed(self, outbox_id: int, error: str, failing_for: float) -> bool:
        """Notes, once, that the row has kept failing for ``failing_for`` seconds, and says
        so on its conversation; True if this call was the one that noted it."""
        async with self.engine.begin() as conn:
            noted = await conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id, outbox.c.delay_alerted_at.is_(None))
                .values(delay_alerted_at=now())
                .returning(outbox.c.conversation_id)
            )
            found = noted.all()
            if not found:
                return False
            conversation_id = found[0][0]
            if conversation_id is not None:
                await record_event(
                    conn,
                    int(conversation_id),
                    "delivery_delayed",
                    "outbox",
                    {
                        "outbox_id": outbox_id,
                        "error": error,
                        "failing_minutes": round(failing_for / 60, 1),
                    },
                )
        return True

    async def mark_failed(self, outbox_id: int, error: str, parts_sent: int | None = None) -> None:
        """Gives up on the row and says why on its conversation; ``parts_sent`` records
        how far it got, so an agent's "Try again" sends only the rest."""
        values: dict[str, Any] = {"state": "failed", "last_error": error, "lease_until": None}
        if parts_sent is not None:
            values["parts_sent"] = parts_sent
        async with self.engine.begin() as conn:
            conversation_id = await conn.scalar(
                select(outbox.c.conversation_id).where(outbox.c.id == outbox_id)
            )
            await conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(**values))
            if conversation_id is not None:
                await record_event(
                    conn,
                    int(conversation_id),
                    "delivery_failed",
                    "outbox",
                    {"outbox_id": outbox_id, "error": error},
                )
