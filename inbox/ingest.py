"""Persisting one inbound message: contact, dedup, threading, conversation, acknowledgement.

Runs inside the worker's store transaction; the acknowledgement goes to the outbox in
that same transaction, so a message is either stored with its answer queued, or not at all.
Every step is idempotent on ``(channel, external_id)``: a redelivered message is noticed
and left alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.config import Settings, TeamSettings
from inbox.models import Envelope, RoutingDecision, Status, TriageDecision
from inbox.store.engine import now
from inbox.store.tables import (
    contacts,
    conversation_refs,
    conversations,
    events,
    identities,
    messages,
    outbox,
)
from inbox.text import content_hash, find_references, format_reference

# Channels where a customer's next message simply continues the open conversation.
SESSION_CHANNELS = frozenset({"webchat", "telegram"})

Outcome = Literal["new", "joined", "duplicate", "already_stored"]


@dataclass(frozen=True)
class IngestPlan:
    """One claimed message with the decisions made for it before the transaction."""

    envelope: Envelope
    reference: int
    routing: RoutingDecision | None
    triage: TriageDecision


@dataclass(frozen=True)
class IngestResult:
    """What became of one message."""

    outcome: Outcome
    reference: int
    conversation_id: int


def acknowledgement_text(reference: int, team: TeamSettings, is_fallback: bool) -> str:
    """The instant answer a customer gets for a new ticket."""
    hours = team.first_response_hours
    if hours < 1:
        within = f"{round(hours * 60)} minutes"
    elif hours == 1:
        within = "1 hour"
    else:
        within = f"{hours:g} hours"
    who = "Our support team" if is_fallback else f"The {team.display_name} team"
    return (
        f"Thank you, we have your message. Your ticket is {format_reference(reference)}. "
        f"{who} usually answers within {within}."
    )


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
) -> int:
    """Stores an outbound message and its outbox row together; returns the message id."""
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
                internal=False,
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
        )
    )
    return int(message_id)


async def _contact_for(conn: AsyncConnection, env: Envelope, tier: str) -> int:
    found = await conn.scalar(
        select(identities.c.contact_id).where(
            identities.c.channel == env.identity_channel, identities.c.address == env.address
        )
    )
    if found is not None:
        return int(found)
    contact_id = (
        await conn.execute(
            insert(contacts)
            .values(name=env.sender_name, tier=tier, created_at=now())
            .returning(contacts.c.id)
        )
    ).scalar_one()
    await conn.execute(
        insert(identities).values(
            contact_id=contact_id,
            channel=env.identity_channel,
            address=env.address,
            verified=False,
        )
    )
    return int(contact_id)


async def _duplicate_of(
    conn: AsyncConnection, contact_id: int, digest: str, since: float
) -> tuple[int, int] | None:
    """The earlier identical message (its id and conversation) from this contact, if any."""
    row = (
        await conn.execute(
            select(messages.c.id, messages.c.conversation_id)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(
                messages.c.content_hash == digest,
                messages.c.direction == "in",
                messages.c.created_at >= since,
                conversations.c.contact_id == contact_id,
            )
            .order_by(messages.c.id)
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


async def _thread_target(conn: AsyncConnection, env: Envelope, contact_id: int) -> int | None:
    """The conversation this message continues: a quoted reference, or an open session."""
    quoted = find_references(env.subject, env.text)
    if quoted:
        row = (
            await conn.execute(
                select(conversations.c.id)
                .join(conversation_refs, conversation_refs.c.conversation_id == conversations.c.id)
                .where(
                    conversation_refs.c.reference.in_(quoted),
                    conversations.c.contact_id == contact_id,
                )
                .order_by(conversations.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            return int(row[0])
    if env.channel in SESSION_CHANNELS:
        row = (
            await conn.execute(
                select(conversations.c.id)
                .where(
                    conversations.c.channel == env.channel,
                    conversations.c.address == env.address,
                    conversations.c.status != Status.RESOLVED.value,
                )
                .order_by(conversations.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            return int(row[0])
    return None


async def _store_inbound(
    conn: AsyncConnection,
    env: Envelope,
    conversation_id: int,
    digest: str,
    duplicate_of: int | None = None,
) -> None:
    await conn.execute(
        insert(messages).values(
            conversation_id=conversation_id,
            direction="in",
            channel=env.channel,
            external_id=env.external_id,
            author="customer",
            internal=False,
            subject=env.subject,
            text=env.text,
            content_hash=digest,
            duplicate_of=duplicate_of,
            created_at=env.received_at,
        )
    )


async def _alias(conn: AsyncConnection, reference: int, conversation_id: int) -> None:
    exists = await conn.scalar(
        select(conversation_refs.c.reference).where(conversation_refs.c.reference == reference)
    )
    if exists is None:
        await conn.execute(
            insert(conversation_refs).values(reference=reference, conversation_id=conversation_id)
        )


async def _primary_reference(conn: AsyncConnection, conversation_id: int) -> int:
    value = await conn.scalar(
        select(conversations.c.reference).where(conversations.c.id == conversation_id)
    )
    if value is None:
        raise LookupError(f"conversation {conversation_id} vanished")
    return int(value)


async def _join(
    conn: AsyncConnection, plan: IngestPlan, conversation_id: int, digest: str
) -> IngestResult:
    env = plan.envelope
    await _store_inbound(conn, env, conversation_id, digest)
    await _alias(conn, plan.reference, conversation_id)
    status = await conn.scalar(
        select(conversations.c.status).where(conversations.c.id == conversation_id)
    )
    values: dict[str, Any] = {"updated_at": now()}
    if status in (Status.RESOLVED.value, Status.PENDING.value):
        values["status"] = Status.OPEN.value
    await conn.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(**values)
    )
    data: dict[str, Any] = {"channel": env.channel, "external_id": env.external_id}
    if status == Status.RESOLVED.value:
        data["reopened"] = True
    await record_event(conn, conversation_id, "customer_replied", "customer", data)
    return IngestResult("joined", await _primary_reference(conn, conversation_id), conversation_id)


async def _free_reference(conn: AsyncConnection, wanted: int) -> int:
    """The reserved reference, unless the store already used it (a reset queue)."""
    taken = await conn.scalar(
        select(conversation_refs.c.reference).where(conversation_refs.c.reference == wanted)
    )
    if taken is None:
        return wanted
    highest = await conn.scalar(select(func.max(conversation_refs.c.reference)))
    return int(highest or 0) + 1


async def ingest_message(
    conn: AsyncConnection, plan: IngestPlan, settings: Settings, tier: str
) -> IngestResult:
    """Stores one inbound message and, for a new ticket, queues its acknowledgement."""
    env = plan.envelope
    already = (
        await conn.execute(
            select(messages.c.conversation_id).where(
                and_(messages.c.channel == env.channel, messages.c.external_id == env.external_id)
            )
        )
    ).first()
    if already is not None:
        conversation_id = int(already[0])
        reference = await _primary_reference(conn, conversation_id)
        return IngestResult("already_stored", reference, conversation_id)

    contact_id = await _contact_for(conn, env, tier)
    digest = content_hash(env.subject, env.text)
    since = env.received_at - settings.dedup_window_minutes * 60
    duplicate = await _duplicate_of(conn, contact_id, digest, since)
    if duplicate is not None:
        original_id, conversation_id = duplicate
        await _store_inbound(conn, env, conversation_id, digest, duplicate_of=original_id)
        await _alias(conn, plan.reference, conversation_id)
        await record_event(
            conn,
            conversation_id,
            "duplicate_merged",
            "worker",
            {"external_id": env.external_id, "duplicate_of_message": original_id},
        )
        reference = await _primary_reference(conn, conversation_id)
        return IngestResult("duplicate", reference, conversation_id)

    target = await _thread_target(conn, env, contact_id)
    if target is not None:
        return await _join(conn, plan, target, digest)
    return await _open_conversation(conn, plan, settings, contact_id, digest)


async def _open_conversation(
    conn: AsyncConnection, plan: IngestPlan, settings: Settings, contact_id: int, digest: str
) -> IngestResult:
    env = plan.envelope
    routing = plan.routing
    team_name = routing.team if routing is not None else settings.routing.fallback_team
    team = settings.team(team_name)
    reference = await _free_reference(conn, plan.reference)
    stamp = now()
    conversation_id = int(
        (
            await conn.execute(
                insert(conversations)
                .values(
                    reference=reference,
                    contact_id=contact_id,
                    channel=env.channel,
                    address=env.address,
                    subject=env.subject[:300],
                    status=Status.NEW.value,
                    team=team.name,
                    priority=int(plan.triage.priority),
                    created_at=env.received_at,
                    updated_at=stamp,
                    first_response_due=env.received_at + team.first_response_hours * 3600,
                )
                .returning(conversations.c.id)
            )
        ).scalar_one()
    )
    await conn.execute(
        insert(conversation_refs).values(reference=reference, conversation_id=conversation_id)
    )
    await _store_inbound(conn, env, conversation_id, digest)
    await record_event(
        conn,
        conversation_id,
        "created",
        "worker",
        {"channel": env.channel, "external_id": env.external_id},
    )
    if routing is not None:
        await record_event(conn, conversation_id, "routed", "router", routing.evidence())
    await record_event(
        conn,
        conversation_id,
        "triaged",
        "triage",
        {"priority": plan.triage.priority.name.lower(), "reasons": list(plan.triage.reasons)},
    )
    text = acknowledgement_text(
        reference, team, is_fallback=team.name == settings.routing.fallback_team
    )
    message_id = await queue_outbound(
        conn,
        conversation_id=conversation_id,
        channel=env.channel,
        address=env.address,
        text=text,
        author="bot",
        kind="acknowledgement",
        subject=env.subject,
    )
    await record_event(conn, conversation_id, "acknowledged", "worker", {"message_id": message_id})
    return IngestResult("new", reference, conversation_id)
