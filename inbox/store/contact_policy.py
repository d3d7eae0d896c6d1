"""The contact policy: which automatic messages one customer gets, counted per contact
across all their linked channels, never per address.

Automatic messages are the ones nobody wrote for this customer: acknowledgements and
follow-up notices, the bot's answers and handoff notices, rating requests. An agent's
answer is never held back. A message held back is not queued; an event on its
conversation says which rule held it (``acknowledgement_suppressed`` for a message's
first answer, which the answer ledger reads, ``automatic_suppressed`` for the others).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BOT_ANSWER
from inbox.config.settings import ContactSettings
from inbox.models import Status
from inbox.store.engine import now
from inbox.store.tables import contacts, conversations, events, outbox
from inbox.store.writes import record_event

AUTOMATIC_KINDS = ("acknowledgement", BOT_ANSWER, "handoff", "csat")
FIRST_ANSWER_SUPPRESSED = "acknowledgement_suppressed"  # the one kind the ledger reads
SUPPRESSED = "automatic_suppressed"  # any other automatic message held back
STOPPED = "automatic_stopped"  # the customer asked for no automatic messages
RESUMED = "automatic_resumed"

ASKED_TO_STOP = "the customer asked for no automatic messages"
ONCE = (
    "the customer was answered automatically moments ago about the same thing, on another channel"
)


def over_cap(policy: ContactSettings) -> str:
    """The cap's rule, as the event says it."""
    return (
        f"{policy.automatic_per_window} automatic messages to this customer "
        f"within {policy.window_minutes:g} minutes"
    )


async def stopped_contacts(conn: AsyncConnection, contact_ids: Iterable[int]) -> set[int]:
    """The contacts who asked for no automatic messages."""
    ids = list(set(contact_ids))
    if not ids:
        return set()
    rows = await conn.execute(
        select(contacts.c.id).where(
            contacts.c.id.in_(ids), contacts.c.automatic_stopped_at.is_not(None)
        )
    )
    return {int(r[0]) for r in rows}


async def set_stopped(conn: AsyncConnection, contact_id: int, stop: bool, stamp: float) -> bool:
    """Stops (or resumes) automatic messages to a contact; True if that changed anything."""
    state = contacts.c.automatic_stopped_at
    result = await conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id, state.is_(None) if stop else state.is_not(None))
        .values(automatic_stopped_at=stamp if stop else None)
    )
    return bool(result.rowcount)


async def stop_automatic(
    conn: AsyncConnection, contact_id: int, stop: bool, actor: str, via: str
) -> bool:
    """Stops (or resumes) automatic messages to a contact on all their linked channels;
    True if that changed anything. Each of their open conversations records it (the
    actor, and ``via``: how it was asked), so agents see it."""
    if not await set_stopped(conn, contact_id, stop, now()):
        return False
    rows = await conn.execute(
        select(conversations.c.id).where(
            conversations.c.contact_id == contact_id,
            conversations.c.status != Status.RESOLVED.value,
        )
    )
    for (conversation_id,) in rows.all():
        await record_event(
            conn, int(conversation_id), STOPPED if stop else RESUMED, actor, {"via": via}
        )
    return True


async def _recent(
    conn: AsyncConnection, contact_ids: list[int], since: float
) -> list[tuple[int, str, float]]:
    """``(contact, channel, queued at)`` of each automatic message to these contacts
    since ``since``."""
    if not contact_ids:
        return []
    rows = await conn.execute(
        select(conversations.c.contact_id, outbox.c.channel, outbox.c.created_at)
        .select_from(outbox.join(conversations, outbox.c.conversation_id == conversations.c.id))
        .where(
            conversations.c.contact_id.in_(contact_ids),
            outbox.c.kind.in_(AUTOMATIC_KINDS),
            outbox.c.created_at >= since,
        )
    )
    return [(int(r[0]), str(r[1]), float(r[2])) for r in rows]


@dataclass
class Allowance:
    """What each contact may still get, read once and taken from as messages are queued
    (so the rules hold within one batch as across batches)."""

    policy: ContactSettings
    stamp: float
    stopped: set[int]
    counts: dict[int, int] = field(default_factory=dict)  # automatic messages in the window
    # The channels each contact got an automatic message on within acknowledge_once_minutes.
    recent: dict[int, set[str]] = field(default_factory=dict)

    def hold(self, contact_id: int, channel: str, related: bool = False) -> str:
        """The rule that holds back an automatic message to the contact on ``channel``, ""
        if none. ``related``: the message joined, duplicated or resembles one of their
        tickets; then an automatic message moments ago on another channel answered it."""
        if contact_id in self.stopped:
            return ASKED_TO_STOP
        recent = self.recent.get(contact_id, set())
        if related and recent and channel not in recent:
            return ONCE
        if self.counts.get(contact_id, 0) >= self.policy.automatic_per_window:
            return over_cap(self.policy)
        return ""

    def take(self, contact_id: int, channel: str) -> None:
        """Counts one automatic message queued to the contact on ``channel`` now."""
        self.counts[contact_id] = self.counts.get(contact_id, 0) + 1
        self.recent.setdefault(contact_id, set()).add(channel)


async def allowance(
    conn: AsyncConnection, contact_ids: Iterable[int], policy: ContactSettings, stamp: float
) -> Allowance:
    """The contacts' allowance now: one read of their recent automatic messages."""
    ids = sorted(set(contact_ids))
    window = policy.window_minutes * 60
    since = stamp - max(window, policy.acknowledge_once_minutes * 60)
    once = stamp - policy.acknowledge_once_minutes * 60
    found = Allowance(policy, stamp, await stopped_contacts(conn, ids))
    for contact_id, channel, at in await _recent(conn, ids, since):
        if at >= stamp - window:
            found.counts[contact_id] = found.counts.get(contact_id, 0) + 1
        if at >= once:
            found.recent.setdefault(contact_id, set()).add(channel)
    return found


async def csat_hold(
    conn: AsyncConnection, conversation_id: int, channel: str, policy: ContactSettings, stamp: float
) -> str:
    """The rule that holds back a rating request for a conversation, "" if none: the
    customer stopped automatic messages, another conversation of theirs is open, they
    were asked within ``csat_every_days``, or the cap is reached."""
    contact_id = await conn.scalar(
        select(conversations.c.contact_id).where(conversations.c.id == conversation_id)
    )
    if contact_id is None:
        return ""
    contact_id = int(contact_id)
    theirs = select(conversations.c.id).where(conversations.c.contact_id == contact_id)
    other_open = await conn.scalar(
        select(conversations.c.reference)
        .where(
            conversations.c.contact_id == contact_id,
            conversations.c.id != conversation_id,
            conversations.c.status != Status.RESOLVED.value,
        )
        .limit(1)
    )
    asked = await conn.scalar(
        select(events.c.created_at)
        .where(
            events.c.conversation_id.in_(theirs),
            events.c.kind == "csat_requested",
            events.c.created_at >= stamp - policy.csat_every_days * 86400,
        )
        .limit(1)
    )
    left = await allowance(conn, [contact_id], policy, stamp)
    return (
        left.hold(contact_id, channel)
        or (f"another conversation of the customer is open (#{other_open})" if other_open else "")
        or (
            f"the customer was asked for a rating within {policy.csat_every_days:g} days"
            if asked
            else ""
        )
    )


async def note_suppressed(
    conn: AsyncConnection, conversation_id: int, kind: str, reason: str, actor: str
) -> None:
    """Records an automatic message (not a first answer) that a rule held back."""
    data: dict[str, Any] = {"reason": reason, "message": kind}
    await record_event(conn, conversation_id, SUPPRESSED, actor, data)
