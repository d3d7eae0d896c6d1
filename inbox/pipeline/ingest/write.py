"""Writing what was decided: new conversations, the messages, their files and vectors,
and the conversations they touched. Set-based: a few statements per batch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.dedup import vector_bytes
from inbox.config.settings import Settings
from inbox.models import Attachment, Envelope, Status
from inbox.pipeline.ingest.plan import own_thread_key
from inbox.pipeline.ingest.state import BatchState, Conversation, Inbound
from inbox.sla.policy import Target
from inbox.store.bulk import insert_keyed
from inbox.store.sla_clocks import SlaClocks
from inbox.store.tables import (
    attachments,
    conversation_refs,
    conversations,
    merge_suggestions,
    message_vectors,
    messages,
)


async def write_conversations(
    conn: AsyncConnection,
    inbound: list[Inbound],
    state: BatchState,
    settings: Settings,
    clocks: SlaClocks,
    stamp: float,
) -> list[Conversation]:
    """Inserts the conversations the batch opens (their SLA clocks started) and every
    reference the batch reserved; returns the new conversations."""
    new = [m.target for m in inbound if m.outcome == "new"]
    if new:
        await _renumber(conn, new, state)
        rows = [_conversation_row(conv, settings, clocks, stamp) for conv in new]
        ids = await insert_keyed(conn, conversations, rows, ("reference",))
        for conv, conversation_id in zip(new, ids, strict=True):
            conv.conversation_id = int(conversation_id)
        await clocks.start(conn, [start for conv in new for start in _clock_starts(conv, settings)])

    refs = [{"reference": c.reference, "conversation_id": c.conversation_id} for c in new]
    # A message that joined a ticket still holds the reference the queue gave it.
    for m in inbound:
        if m.outcome != "new" and m.plan.reference not in state.taken_references:
            state.taken_references.add(m.plan.reference)
            refs.append(
                {"reference": m.plan.reference, "conversation_id": m.target.conversation_id}
            )
    if refs:
        await conn.execute(insert(conversation_refs), refs)
    return new


async def _renumber(conn: AsyncConnection, new: list[Conversation], state: BatchState) -> None:
    """Gives a new conversation whose reserved reference is taken (a queue reset under a
    kept store) the next free one."""
    highest: int | None = None
    for conv in new:
        if conv.reference in state.taken_references:
            if highest is None:
                highest = int(
                    await conn.scalar(select(func.max(conversation_refs.c.reference))) or 0
                )
                highest = max(highest, *state.taken_references)
            highest += 1
            conv.reference = highest
        state.taken_references.add(conv.reference)


def _team_of(conv: Conversation, settings: Settings) -> str:
    assert conv.plan is not None
    routing = conv.plan.routing
    return routing.team if routing else settings.routing.fallback_team


def _conversation_row(
    conv: Conversation, settings: Settings, clocks: SlaClocks, stamp: float
) -> dict[str, Any]:
    assert conv.plan is not None
    env, priority = conv.plan.envelope, conv.plan.triage.priority
    team = settings.team(_team_of(conv, settings))
    return {
        "reference": conv.reference,
        "contact_id": conv.contact_id,
        "channel": env.channel,
        "address": env.address,
        "subject": env.subject[:300],
        "status": Status.NEW.value,
        "team": team.name,
        "priority": int(priority),
        "created_at": env.received_at,
        "updated_at": stamp,
        "first_response_due": clocks.due(
            team.name, priority, Target.FIRST_RESPONSE, env.received_at
        ),
    }


def _clock_starts(conv: Conversation, settings: Settings) -> Iterable[Any]:
    assert conv.plan is not None and conv.conversation_id is not None
    for target in (Target.FIRST_RESPONSE, Target.RESOLUTION):
        yield (
            conv.conversation_id,
            _team_of(conv, settings),
            conv.plan.triage.priority,
            target,
            conv.plan.envelope.received_at,
        )


async def write_messages(
    conn: AsyncConnection, inbound: list[Inbound], model: str, stamp: float
) -> dict[Inbound, int]:
    """Inserts the messages with their files, embeddings and merge suggestions; returns
    each message's id."""
    message_ids: dict[Inbound, int] = {}
    # Originals first, so a duplicate inside the batch can point at its original's id.
    for group in (
        [m for m in inbound if m.duplicate_of_batch is None],
        [m for m in inbound if m.duplicate_of_batch is not None],
    ):
        if not group:
            continue
        rows = [_message_row(m, message_ids) for m in group]
        ids = await insert_keyed(conn, messages, rows, ("channel", "external_id"))
        message_ids.update(zip(group, (int(i) for i in ids), strict=True))
    files = [
        {"message_id": message_ids[m], "quarantine_id": None, **attachment_row(a, stamp)}
        for m in inbound
        for a in m.plan.envelope.attachments
    ]
    if files:
        await conn.execute(insert(attachments), files)
    vector_rows = [
        {
            "message_id": message_ids[m],
            "conversation_id": m.target.conversation_id,
            "contact_id": m.target.contact_id,
            "opened": m.outcome == "new",
            "model": model,
            "vector": vector_bytes(m.plan.vector),
            "created_at": m.plan.envelope.received_at,
        }
        for m in inbound
        if m.plan.vector is not None and model
    ]
    if vector_rows:
        await conn.execute(insert(message_vectors), vector_rows)
    await _suggest_merges(conn, inbound, stamp)
    return message_ids


def _message_row(m: Inbound, message_ids: dict[Inbound, int]) -> dict[str, Any]:
    env = m.plan.envelope
    duplicate_of = m.duplicate_of
    if m.duplicate_of_batch is not None:
        duplicate_of = message_ids[m.duplicate_of_batch]
    return {
        "conversation_id": m.target.conversation_id,
        "direction": "in",
        "channel": env.channel,
        "external_id": env.external_id,
        "author": "customer",
        "agent_id": None,
        "internal": False,
        "subject": env.subject,
        "text": env.text,
        "content_hash": m.digest,
        "duplicate_of": duplicate_of,
        "created_at": env.received_at,
        "html": env.html or None,
        "meta": stored_meta(env),
        "thread_key": own_thread_key(env) or None,
    }


def stored_meta(env: Envelope) -> dict[str, str]:
    """The message's channel details as ``messages.meta`` holds them, with its sender."""
    return replace(env.meta, automated=env.automated, sender=env.address).to_dict()


async def _suggest_merges(conn: AsyncConnection, inbound: list[Inbound], stamp: float) -> None:
    rows = [
        {
            "conversation_id": m.target.conversation_id,
            "candidate_id": m.similar_to.conversation_id,
            "similarity": m.similar.similarity,
            "state": "open",
            "created_at": stamp,
        }
        for m in inbound
        if m.similar_to is not None and m.similar is not None
    ]
    if rows:
        await conn.execute(insert(merge_suggestions), rows)


def attachment_row(a: Attachment, stamp: float) -> dict[str, Any]:
    """A file's row in ``attachments``, without the message or quarantine it belongs to."""
    return {
        "kind": a.kind,
        "filename": a.filename[:255],
        "content_type": a.content_type[:127],
        "size": a.size,
        "omitted": a.omitted,
        "data": a.data,
        "created_at": stamp,
    }


@dataclass
class Touched:
    """Existing conversations the batch wrote to, and when their customers wrote."""

    conversations: dict[int, Conversation] = field(default_factory=dict)
    customer_wrote: dict[int, float] = field(default_factory=dict)  # id -> first message


def touched_by(inbound: list[Inbound]) -> Touched:
    """The existing conversations the batch touches; a customer's reply reopens a resolved
    or pending one (marked ``reopen``) and counts for its SLA clocks."""
    touched = Touched()
    for m in inbound:
        env, target = m.plan.envelope, m.target
        if target.new or target.conversation_id is None:
            continue
        touched.conversations[target.conversation_id] = target
        if is_customer_reply(m):
            if target.status in (Status.RESOLVED.value, Status.PENDING.value):
                target.reopen = True
            wrote = touched.customer_wrote
            wrote[target.conversation_id] = min(
                wrote.get(target.conversation_id, env.received_at), env.received_at
            )
    return touched


def is_customer_reply(m: Inbound) -> bool:
    """A message from the customer that joined a conversation (not a machine's)."""
    return m.outcome not in ("new", "duplicate") and not m.plan.envelope.automated


async def update_touched(
    conn: AsyncConnection,
    touched: Touched,
    started: list[Conversation],
    clocks: SlaClocks,
    stamp: float,
) -> None:
    """Marks touched conversations updated (and reopened), and brings the SLA clocks of
    those and of the ``started`` ones up to date."""
    if touched.conversations:
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == bindparam("cid"))
            .values(updated_at=bindparam("stamp")),
            [{"cid": cid, "stamp": stamp} for cid in touched.conversations],
        )
        reopened = [cid for cid, conv in touched.conversations.items() if conv.reopen]
        if reopened:
            await conn.execute(
                update(conversations)
                .where(conversations.c.id.in_(reopened))
                .values(status=Status.OPEN.value)
            )
    if touched.customer_wrote:
        await clocks.customer_wrote(conn, touched.customer_wrote)
    ids = [c.conversation_id for c in started if c.conversation_id is not None]
    await clocks.refresh(conn, [*ids, *touched.customer_wrote])
