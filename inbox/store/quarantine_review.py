"""An operator's review of a quarantined message: release it as a ticket, confirm it is
spam, or dismiss an unreadable one after reading its original.

A release puts the message back on the queue as an envelope of its own (its external id
marked, so neither the queue's nor the store's "seen it" checks take it for the
original); the worker routes, triages and acknowledges it like any message, except that
triage's spam verdict no longer holds it, and notes the ticket it became on the entry
(``released_reference``). Each entry is reviewed once: a second review is a ``Conflict``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict, InboxError, NotFound
from inbox.models import Attachment, Envelope, Receipt
from inbox.queue.base import Sink
from inbox.store.engine import now
from inbox.store.tables import attachments, quarantine

log = logging.getLogger(__name__)
REVIEWS = ("released", "spam", "dismissed")
MAX_REVIEWER = 120  # quarantine.reviewed_by
_EXTERNAL_ID = 200  # messages.external_id


def identity_channel_of(channel: str) -> str:
    """The identity channel of a message that came on ``channel``: every mailbox shares
    the ``email`` identity; the form, the chat and Telegram are their own."""
    return "email" if channel.startswith("email") else channel


def released_external_id(external_id: str, entry_id: int) -> str:
    """The external id a released entry's message is queued and stored under."""
    suffix = f":released:{entry_id}"
    return external_id[: _EXTERNAL_ID - len(suffix)] + suffix


def reviewer(name: str) -> str:
    """``name`` as a reviewer; a blank or too long one is refused."""
    name = name.strip()
    if not name or len(name) > MAX_REVIEWER or any(c in name for c in "\r\n"):
        raise InboxError(f"a reviewer is a name of 1 to {MAX_REVIEWER} characters on one line")
    return name


async def _unreviewed(conn: AsyncConnection, entry_id: int) -> Any:
    row = (await conn.execute(select(quarantine).where(quarantine.c.id == entry_id))).first()
    if row is None:
        raise NotFound(f"no quarantine entry {entry_id}")
    if row.review is not None:
        raise Conflict(_already(entry_id, row))
    return row


def _already(entry_id: int, row: Any) -> str:
    how = {"released": "released as a ticket", "spam": "confirmed as spam"}.get(
        row.review, str(row.review)
    )
    return f"quarantine entry {entry_id} was already reviewed: {how} by {row.reviewed_by}"


async def _mark(conn: AsyncConnection, entry_id: int, review: str, by: str) -> None:
    """Records the review, if nobody recorded one in the meantime."""
    done = await conn.execute(
        update(quarantine)
        .where(quarantine.c.id == entry_id, quarantine.c.review.is_(None))
        .values(review=review, reviewed_by=by, reviewed_at=now())
    )
    if done.rowcount != 1:
        row = (await conn.execute(select(quarantine).where(quarantine.c.id == entry_id))).first()
        raise Conflict(_already(entry_id, row))


def _has_text(row: Any) -> bool:
    return bool((row.text or "").strip())


async def _files(conn: AsyncConnection, entry_id: int) -> tuple[Attachment, ...]:
    rows = await conn.execute(
        select(attachments)
        .where(attachments.c.quarantine_id == entry_id)
        .order_by(attachments.c.id)
    )
    return tuple(
        Attachment(r.filename, r.content_type, int(r.size), bytes(r.data), bool(r.omitted), r.kind)
        for r in rows
    )


def released_envelope(row: Any, files: tuple[Attachment, ...]) -> Envelope:
    """The message of quarantine entry ``row`` as it goes back on the queue."""
    return Envelope(
        channel=row.channel,
        external_id=released_external_id(row.external_id, int(row.id)),
        identity_channel=identity_channel_of(row.channel),
        address=row.sender,
        text=row.text,
        received_at=float(row.received_at),
        subject=row.subject,
        attachments=files,
        released=int(row.id),
    )


async def release(engine: AsyncEngine, sink: Sink, entry_id: int, by: str) -> Receipt:
    """Releases entry ``entry_id`` as a ticket: the review is recorded and the message
    queued in one go (a queue that refuses it leaves the entry unreviewed). Returns the
    queue's receipt; the worker notes the ticket on the entry once it is stored."""
    by = reviewer(by)
    async with engine.begin() as conn:
        row = await _unreviewed(conn, entry_id)
        if not _has_text(row):
            raise Conflict(
                f"quarantine entry {entry_id} has no text to release (an unreadable "
                "message): read its original, then dismiss it or confirm it as spam"
            )
        await _mark(conn, entry_id, "released", by)
        envelope = released_envelope(row, await _files(conn, entry_id))
        (receipt,) = await sink.put([envelope])
    log.info("%s released quarantine entry %d, queued as #%d", by, entry_id, receipt.reference)
    return receipt


async def confirm_spam(engine: AsyncEngine, entry_id: int, by: str) -> None:
    """Confirms entry ``entry_id`` as spam: it is never answered."""
    by = reviewer(by)
    async with engine.begin() as conn:
        await _unreviewed(conn, entry_id)
        await _mark(conn, entry_id, "spam", by)
    log.info("%s confirmed quarantine entry %d as spam", by, entry_id)


async def dismiss(engine: AsyncEngine, entry_id: int, by: str) -> None:
    """Dismisses entry ``entry_id``, an unreadable message with nothing to release (the
    operator read its original). An entry with text is released or confirmed as spam."""
    by = reviewer(by)
    async with engine.begin() as conn:
        row = await _unreviewed(conn, entry_id)
        if _has_text(row):
            raise Conflict(
                f"quarantine entry {entry_id} has text: release it as a ticket or "
                "confirm it as spam"
            )
        await _mark(conn, entry_id, "dismissed", by)
    log.info("%s dismissed quarantine entry %d", by, entry_id)


async def unreviewed_count(engine: AsyncEngine) -> int:
    """How many quarantined messages nobody has reviewed yet."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(quarantine).where(quarantine.c.review.is_(None))
        )
    return int(found or 0)
