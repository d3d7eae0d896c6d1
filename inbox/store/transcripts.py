"""What customers may read of their own conversations (never internal notes)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Select, and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.bot_words import BOT_ANSWER, BotState, choice_texts
from inbox.models import TranscriptEntry
from inbox.store.files import answer_files
from inbox.store.tables import contacts, conversation_refs, conversations, messages, outbox
from inbox.texts import Catalogue

# A TranscriptEntry's fields, in order; then whether it offers the choices (a bot answer
# whose conversation still waits for the customer's verdict) and the language of their
# words (the customer's). (Every query here joins the message's outbox row, if any, and
# its conversation.)
_ENTRY = (
    messages.c.id,
    conversations.c.reference,
    messages.c.author,
    messages.c.text,
    messages.c.created_at,
    case(
        (
            and_(outbox.c.kind == BOT_ANSWER, conversations.c.bot_state == BotState.HOLDING),
            True,
        ),
        else_=False,
    ),
    select(contacts.c.language)
    .where(contacts.c.id == conversations.c.contact_id)
    .correlate(conversations)
    .scalar_subquery(),
)


def _entry(row: Any, texts: Catalogue, first: int = 0) -> TranscriptEntry:
    r = row[first:]
    choices = choice_texts(texts, r[6] or "") if r[5] else ()
    return TranscriptEntry(int(r[0]), int(r[1]), r[2], r[3], float(r[4]), choices)


def _visible_messages() -> Select[Any]:
    # Inbound messages, and outbound ones once delivered: an answer still in the outbox
    # reaches the customer through the channel first, never twice.
    return (
        select(*_ENTRY)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .outerjoin(outbox, outbox.c.message_id == messages.c.id)
        .where(
            messages.c.internal.is_(False),
            or_(messages.c.direction == "in", outbox.c.state == "sent"),
        )
        .order_by(messages.c.created_at, messages.c.id)
    )


async def _with_files(
    conn: AsyncConnection, entries: list[TranscriptEntry]
) -> list[TranscriptEntry]:
    """The entries, each answer with the files an agent attached to it (no bytes)."""
    files = await answer_files(conn, [e.message_id for e in entries], with_data=False)
    return [replace(e, files=files[e.message_id]) if e.message_id in files else e for e in entries]


class StoreTranscripts:
    """The store side of the web channels' CustomerTranscripts seam."""

    def __init__(self, engine: AsyncEngine, texts: Catalogue | None = None) -> None:
        self.engine = engine
        self.texts = texts or Catalogue()  # the words of a bot answer's choices

    async def _read(self, query: Select[Any]) -> list[TranscriptEntry]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            return await _with_files(conn, [_entry(r, self.texts) for r in rows])

    async def for_identity(self, channel: str, address: str) -> list[TranscriptEntry]:
        """Every visible message of the conversations started on ``(channel, address)``."""
        query = _visible_messages().where(
            and_(conversations.c.channel == channel, conversations.c.address == address)
        )
        return await self._read(query)

    async def for_ticket(self, reference: int, address: str) -> list[TranscriptEntry]:
        """The visible messages of ticket ``reference`` (any of its aliases) for its customer."""
        target = select(conversation_refs.c.conversation_id).where(
            conversation_refs.c.reference == reference
        )
        query = _visible_messages().where(
            conversations.c.id.in_(target.scalar_subquery()), conversations.c.address == address
        )
        return await self._read(query)

    async def for_submitter(
        self, reference: int, address: str, sent_prefix: str
    ) -> list[TranscriptEntry]:
        """Of ticket ``reference``: what this sender wrote and the answers sent to them."""
        target = select(conversation_refs.c.conversation_id).where(
            conversation_refs.c.reference == reference
        )
        query = (
            select(*_ENTRY)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .outerjoin(outbox, outbox.c.message_id == messages.c.id)
            .where(
                conversations.c.id.in_(target.scalar_subquery()),
                messages.c.internal.is_(False),
                or_(
                    and_(
                        messages.c.direction == "in",
                        messages.c.external_id.startswith(sent_prefix, autoescape=True),
                    ),
                    and_(outbox.c.state == "sent", outbox.c.address == address),
                ),
            )
            .order_by(messages.c.created_at, messages.c.id)
        )
        return await self._read(query)

    async def ticket_of(self, reference: int) -> int | None:
        """The reference of the ticket message ``reference`` is stored in, once it is."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(conversations.c.reference)
                .join(conversation_refs, conversation_refs.c.conversation_id == conversations.c.id)
                .where(conversation_refs.c.reference == reference)
            )
        return None if found is None else int(found)

    async def sent_since(self, channel: str, since: float) -> list[tuple[str, TranscriptEntry]]:
        """Answers delivered on ``channel`` since ``since``, each with its address."""
        query = (
            select(outbox.c.address, *_ENTRY)
            .join(messages, messages.c.id == outbox.c.message_id)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(outbox.c.channel == channel, outbox.c.state == "sent", outbox.c.sent_at > since)
            .order_by(outbox.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            entries = await _with_files(conn, [_entry(r, self.texts, 1) for r in rows])
        return [(str(r[0]), entry) for r, entry in zip(rows, entries, strict=True)]
