"""The ingest's bulk look-ups: what the store already knows about a batch's messages.

A handful of statements per batch, not per message; what they find goes into the
batch's ``BatchState`` for the decisions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.dedup import Candidate, vector_of
from inbox.message_ids import reference_in_message_id, thread_key
from inbox.models import Envelope, Status
from inbox.pipeline.ingest.plan import SESSION_CHANNELS, IngestPlan, own_thread_key
from inbox.pipeline.ingest.state import (
    BatchState,
    Conversation,
    EarlierCopy,
    EarlierVector,
    StoredMessage,
    Thread,
)
from inbox.store.bulk import pairs_in
from inbox.store.tables import (
    conversation_refs,
    conversations,
    identities,
    message_vectors,
    messages,
)
from inbox.text import find_references


async def look_up(
    conn: AsyncConnection, plans: list[IngestPlan], state: BatchState, secret: bytes
) -> None:
    """Finds the batch's stored messages, known senders, threads, tickets and sessions."""
    envs = [p.envelope for p in plans]
    await _stored(conn, envs, state)
    await _senders(conn, envs, state)
    quoted = {ref for e in envs for ref in find_references(e.subject, e.text)}
    for i, env in enumerate(envs):
        ours = [reference_in_message_id(secret, mid) for mid in env.thread_ids]
        state.thread_refs[i] = [ref for ref in ours if ref is not None]
        quoted.update(state.thread_refs[i])
    await _threads(conn, envs, state)
    await _references(conn, quoted | {p.reference for p in plans}, state)
    await _sessions(conn, envs, state)


async def _stored(conn: AsyncConnection, envs: list[Envelope], state: BatchState) -> None:
    keys = list({(e.channel, e.external_id) for e in envs})
    row: Any
    for row in await conn.execute(
        select(
            messages.c.channel,
            messages.c.external_id,
            messages.c.conversation_id,
            conversations.c.reference,
        )
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(pairs_in(messages.c.channel, messages.c.external_id, keys))
    ):
        state.stored[(row[0], row[1])] = StoredMessage(int(row[2]), int(row[3]))


async def _senders(conn: AsyncConnection, envs: list[Envelope], state: BatchState) -> None:
    pairs = list({(e.identity_channel, e.address) for e in envs})
    row: Any
    for row in await conn.execute(
        select(identities.c.channel, identities.c.address, identities.c.contact_id).where(
            pairs_in(identities.c.channel, identities.c.address, pairs)
        )
    ):
        state.contacts[(row[0], row[1])] = int(row[2])


# A conversation's columns as ``_thread`` reads them, at the end of a row.
_THREAD = (
    conversations.c.id,
    conversations.c.contact_id,
    conversations.c.reference,
    conversations.c.status,
)


def _thread(row: Any, state: BatchState) -> Thread:
    """The conversation in ``row``'s last columns (``_THREAD``), now known to ``state``."""
    conversation_id, contact_id, reference, status = row[-4:]
    state.remember(Conversation(int(conversation_id), int(reference), int(contact_id), status))
    return Thread(int(conversation_id), int(contact_id), int(reference))


async def _threads(conn: AsyncConnection, envs: list[Envelope], state: BatchState) -> None:
    """The conversations of the emails these answer, and stored copies of these emails."""
    keys_wanted = {thread_key(mid) for e in envs for mid in e.thread_ids}
    keys_wanted |= {own_thread_key(e) for e in envs if e.meta.message_id}
    if not keys_wanted:
        return
    row: Any
    for row in await conn.execute(
        select(messages.c.thread_key, messages.c.id, *_THREAD)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(messages.c.thread_key.in_(keys_wanted))
    ):
        state.by_thread_key[row[0]] = _thread(row, state)
        state.mail_copies.setdefault(row[0], int(row[1]))


async def _references(conn: AsyncConnection, wanted: set[int], state: BatchState) -> None:
    """The tickets the batch quotes, and whether the references it reserved are taken."""
    if not wanted:
        return
    row: Any
    for row in await conn.execute(
        select(conversation_refs.c.reference, *_THREAD)
        .join(conversations, conversations.c.id == conversation_refs.c.conversation_id)
        .where(conversation_refs.c.reference.in_(wanted))
    ):
        state.taken_references.add(int(row[0]))
        state.by_reference[int(row[0])] = _thread(row, state)


async def _sessions(conn: AsyncConnection, envs: list[Envelope], state: BatchState) -> None:
    """The open conversations of chat senders: their next message continues it."""
    sessions = list({(e.channel, e.address) for e in envs if e.channel in SESSION_CHANNELS})
    if not sessions:
        return
    row: Any
    for row in await conn.execute(
        select(
            conversations.c.id,
            conversations.c.reference,
            conversations.c.contact_id,
            conversations.c.status,
            conversations.c.channel,
            conversations.c.address,
        )
        .where(
            pairs_in(conversations.c.channel, conversations.c.address, sessions),
            conversations.c.status != Status.RESOLVED.value,
        )
        .order_by(conversations.c.id)
    ):
        found = state.remember(Conversation(int(row[0]), int(row[1]), int(row[2]), row[3]))
        state.open_sessions[(row[4], row[5])] = found


async def look_up_duplicates(
    conn: AsyncConnection, digests: set[str], since: float, state: BatchState
) -> None:
    """Customers' earlier inbound messages since ``since`` with the same content."""
    if not digests:
        return
    row: Any
    for row in await conn.execute(
        select(
            conversations.c.contact_id,
            messages.c.content_hash,
            messages.c.id,
            messages.c.conversation_id,
            messages.c.created_at,
            conversations.c.reference,
            conversations.c.status,
        )
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(
            messages.c.content_hash.in_(digests),
            messages.c.direction == "in",
            messages.c.created_at >= since,
        )
        .order_by(messages.c.id)
    ):
        key = (int(row[0]), row[1])
        state.earlier.setdefault(key, EarlierCopy(int(row[2]), int(row[3]), float(row[4])))
        state.remember(Conversation(int(row[3]), int(row[5]), int(row[0]), row[6]))


async def look_up_similar(
    conn: AsyncConnection, contact_ids: set[int], since: float, model: str, state: BatchState
) -> None:
    """The contacts' messages since ``since`` in open conversations, with embeddings of
    ``model``, and those conversations' teams."""
    if not contact_ids:
        return
    row: Any
    for row in await conn.execute(
        select(
            message_vectors.c.contact_id,
            message_vectors.c.message_id,
            message_vectors.c.vector,
            message_vectors.c.created_at,
            conversations.c.id,
            conversations.c.reference,
            conversations.c.status,
            conversations.c.team,
        )
        .join(conversations, conversations.c.id == message_vectors.c.conversation_id)
        .where(
            message_vectors.c.contact_id.in_(contact_ids),
            message_vectors.c.created_at >= since,
            message_vectors.c.model == model,
            conversations.c.status != Status.RESOLVED.value,
        )
        .order_by(message_vectors.c.message_id)
    ):
        contact, conversation = int(row[0]), int(row[4])
        candidate = Candidate(int(row[1]), conversation, int(row[5]), float(row[3]))
        state.similar.setdefault(contact, []).append(EarlierVector(candidate, vector_of(row[2])))
        state.teams[conversation] = row[7]
        state.remember(Conversation(conversation, int(row[5]), contact, row[6]))
