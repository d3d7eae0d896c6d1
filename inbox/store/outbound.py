"""The one place an answer is queued: its outbound message and its outbox row, together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.store.bulk import insert_keyed
from inbox.store.tables import messages, outbox


@dataclass(frozen=True)
class OutboundDraft:
    """An answer to queue.

    Most are messages of their conversation (``stored``); a bot's service answer (a
    command's reply, a link code) is not: its outbox row carries its own text and subject.
    An ``internal`` message (an alert to staff) shows in the conversation as a note and is
    never part of what the customer can read.
    """

    channel: str
    address: str
    text: str
    kind: str  # acknowledgement | reply | service | ...: what the outbox row is for
    conversation_id: int | None = None
    author: str = "bot"
    agent_id: int | None = None
    subject: str = ""
    internal: bool = False
    stored: bool = True


def _message_row(draft: OutboundDraft, stamp: float) -> dict[str, Any]:
    return {
        "conversation_id": draft.conversation_id,
        "direction": "out",
        "channel": draft.channel,
        "external_id": f"out:{uuid.uuid4().hex}",
        "author": draft.author,
        "agent_id": draft.agent_id,
        "internal": draft.internal,
        "subject": draft.subject,
        "text": draft.text,
        "content_hash": None,
        "duplicate_of": None,
        "created_at": stamp,
    }


def _outbox_row(draft: OutboundDraft, message_id: int | None, stamp: float) -> dict[str, Any]:
    # A stored message is sent with its own text and its thread's subject; staff messages
    # and service answers carry their own subject.
    own_subject = draft.internal or not draft.stored
    return {
        "message_id": message_id,
        "conversation_id": draft.conversation_id,
        "channel": draft.channel,
        "address": draft.address,
        "kind": draft.kind,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": stamp,
        "created_at": stamp,
        "text": None if draft.stored else draft.text,
        "subject": draft.subject if own_subject else None,
    }


async def queue_drafts(
    conn: AsyncConnection, drafts: Sequence[OutboundDraft], stamp: float
) -> list[int | None]:
    """Stores the drafts' messages and outbox rows (one statement each, in order); returns
    each draft's message id, None for a service answer."""
    if not drafts:
        return []
    stored = [d for d in drafts if d.stored]
    ids = iter(
        await insert_keyed(
            conn,
            messages,
            [_message_row(d, stamp) for d in stored],
            ("channel", "external_id"),
        )
        if stored
        else []
    )
    message_ids = [next(ids) if d.stored else None for d in drafts]
    await conn.execute(
        insert(outbox),
        [_outbox_row(d, m, stamp) for d, m in zip(drafts, message_ids, strict=True)],
    )
    return message_ids
