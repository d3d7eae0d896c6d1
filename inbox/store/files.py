"""Attachments and quarantined mail, read back for agents and operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import NotFound
from inbox.models import AnswerFile, MessageMeta
from inbox.store.tables import attachments, messages, quarantine


@dataclass(frozen=True)
class StoredFile:
    """A file's bytes with the name it came with."""

    filename: str
    content_type: str
    data: bytes


# Why an omitted file is missing, in the words the agent page shows.
NOT_FETCHED = "could not be fetched: not kept"
ONLY_IN_ORIGINAL = "too large: only in the original message"
NOT_KEPT = "not kept"


def not_kept_because(kinds: set[str], meta: MessageMeta) -> str:
    """Why a message's omitted files are missing, as far as the store can tell.

    The attachments table says only that a file was omitted. A Telegram message names the
    files the Bot API could not give (``unfetched_file_ids``; its text says why); a mail
    omits a file only over the size cap, and keeps it in its original. Anything else (a
    Telegram file over the cap, or one the Bot API refused) is just "not kept".
    """
    if meta.unfetched_file_ids:
        return NOT_FETCHED
    if "original" in kinds:
        return ONLY_IN_ORIGINAL
    return NOT_KEPT


async def attachments_of(
    conn: AsyncConnection, message_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """Each message's files (without their bytes), for the conversation view; an omitted
    one says why in ``not_kept`` (empty for a file that is kept)."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not message_ids:
        return found
    rows = (
        await conn.execute(
            select(
                attachments.c.id,
                attachments.c.message_id,
                attachments.c.kind,
                attachments.c.filename,
                attachments.c.content_type,
                attachments.c.size,
                attachments.c.omitted,
                messages.c.meta,
            )
            .join(messages, messages.c.id == attachments.c.message_id)
            .where(attachments.c.message_id.in_(message_ids))
            .order_by(attachments.c.id)
        )
    ).all()
    kinds: dict[int, set[str]] = {}
    for row in rows:
        kinds.setdefault(int(row.message_id), set()).add(row.kind)
    for row in rows:
        message_id = int(row.message_id)
        found.setdefault(message_id, []).append(
            {
                "id": int(row.id),
                "kind": row.kind,
                "filename": row.filename,
                "content_type": row.content_type,
                "size": int(row.size),
                "omitted": bool(row.omitted),
                "not_kept": (
                    not_kept_because(kinds[message_id], MessageMeta.from_dict(row.meta))
                    if row.omitted
                    else ""
                ),
            }
        )
    return found


async def message_file(
    conn: AsyncConnection, attachment_id: int, message_ids: list[int]
) -> StoredFile:
    """One file of one of ``message_ids`` (the caller checked who may see them)."""
    row = (
        await conn.execute(
            select(attachments.c.filename, attachments.c.content_type, attachments.c.data).where(
                attachments.c.id == attachment_id, attachments.c.message_id.in_(message_ids)
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such attachment")
    return StoredFile(row.filename, row.content_type, bytes(row.data))


async def answer_files(
    conn: AsyncConnection, message_ids: list[int], *, with_data: bool
) -> dict[int, tuple[AnswerFile, ...]]:
    """The files agents attached to outbound messages ``message_ids``, by message, in the
    order they were attached; their bytes only ``with_data``."""
    found: dict[int, list[AnswerFile]] = {}
    if not message_ids:
        return {}
    columns = [
        attachments.c.id,
        attachments.c.message_id,
        attachments.c.filename,
        attachments.c.content_type,
        attachments.c.size,
    ]
    if with_data:
        columns.append(attachments.c.data)
    rows = await conn.execute(
        select(*columns)
        .join(messages, messages.c.id == attachments.c.message_id)
        .where(
            attachments.c.message_id.in_(message_ids),
            attachments.c.kind == "attachment",
            attachments.c.omitted.is_(False),
            messages.c.direction == "out",
        )
        .order_by(attachments.c.id)
    )
    for row in rows:
        found.setdefault(int(row.message_id), []).append(
            AnswerFile(
                int(row.id),
                row.filename,
                row.content_type,
                int(row.size),
                bytes(row.data) if with_data else b"",
            )
        )
    return {message_id: tuple(files) for message_id, files in found.items()}


async def customer_file(conn: AsyncConnection, file_id: int) -> StoredFile:
    """A file an agent sent a customer (an outbound, non-internal message's): what the
    customer's signed link opens. Nothing else is reachable this way."""
    row = (
        await conn.execute(
            select(attachments.c.filename, attachments.c.content_type, attachments.c.data)
            .join(messages, messages.c.id == attachments.c.message_id)
            .where(
                attachments.c.id == file_id,
                attachments.c.kind == "attachment",
                attachments.c.omitted.is_(False),
                messages.c.direction == "out",
                messages.c.internal.is_(False),
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such file")
    return StoredFile(row.filename, row.content_type, bytes(row.data))


@dataclass(frozen=True)
class QuarantineEntry:
    """A message that could not become a ticket, and its review (``review`` is None until
    someone looks: then released, spam or dismissed)."""

    entry_id: int
    channel: str
    sender: str
    subject: str
    reason: str
    received_at: float
    size: int
    text: str = ""  # "" for an unreadable message: only its original file is kept
    review: str | None = None
    reviewed_by: str = ""
    reviewed_at: float | None = None
    released_reference: int | None = None  # the ticket a released message became

    @property
    def releasable(self) -> bool:
        """Whether it has text to release as a ticket (else: dismissed, or spam)."""
        return bool(self.text.strip())


class Quarantine:
    """What operators see of the quarantine: the list, and each entry's original bytes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def entries(
        self, limit: int = 100, *, unreviewed: bool = False, unreviewed_first: bool = False
    ) -> list[QuarantineEntry]:
        """Newest first; with ``unreviewed``, only those nobody reviewed yet; with
        ``unreviewed_first``, those before the reviewed ones."""
        query = (
            select(
                quarantine.c.id,
                quarantine.c.channel,
                quarantine.c.sender,
                quarantine.c.subject,
                quarantine.c.reason,
                quarantine.c.received_at,
                quarantine.c.text,
                quarantine.c.review,
                quarantine.c.reviewed_by,
                quarantine.c.reviewed_at,
                quarantine.c.released_reference,
                attachments.c.size,
                func.length(quarantine.c.text).label("text_size"),
            )
            .outerjoin(
                attachments,
                (attachments.c.quarantine_id == quarantine.c.id)
                & (attachments.c.kind == "original"),
            )
            .limit(limit)
        )
        if unreviewed:
            query = query.where(quarantine.c.review.is_(None))
        if unreviewed_first:
            query = query.order_by(quarantine.c.review.is_not(None))
        query = query.order_by(quarantine.c.id.desc())
        async with self.engine.connect() as conn:
            return [
                QuarantineEntry(
                    int(r.id),
                    r.channel,
                    r.sender,
                    r.subject,
                    r.reason,
                    float(r.received_at),
                    int(r.size or r.text_size or 0),
                    r.text or "",
                    r.review,
                    r.reviewed_by or "",
                    None if r.reviewed_at is None else float(r.reviewed_at),
                    None if r.released_reference is None else int(r.released_reference),
                )
                for r in await conn.execute(query)
            ]

    async def original(self, entry_id: int) -> bytes:
        """The entry's message exactly as it was received: an email's original bytes,
        else (a web or chat message held as spam, say) its text in UTF-8."""
        async with self.engine.connect() as conn:
            data = await conn.scalar(
                select(attachments.c.data).where(
                    attachments.c.quarantine_id == entry_id, attachments.c.kind == "original"
                )
            )
            text = await conn.scalar(select(quarantine.c.text).where(quarantine.c.id == entry_id))
        if data is not None:
            return bytes(data)
        if text is None:
            raise NotFound(f"no quarantine entry {entry_id}")
        return str(text).encode("utf-8")
