"""Persisting a batch of inbound messages: contacts, dedup, threading, conversations, acks.

Runs inside the worker's one store transaction; acknowledgements go to the outbox in that
same transaction, so a message is either stored with its answer queued, or not at all.
Every step is idempotent on ``(channel, external_id)``: a redelivered message is noticed
and left alone. The work is set-based — a handful of statements per batch, not per
message — because per-statement overhead would otherwise cost more than the model.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.dedup import Candidate, Deduper, DuplicateDecision, vector_bytes, vector_of
from classifiers.embedder import Vectors
from inbox.config.settings import Settings, TeamSettings
from inbox.message_ids import reference_in_message_id, thread_key
from inbox.models import Attachment, Envelope, RoutingDecision, Status, TriageDecision
from inbox.pipeline.commands import answer_command
from inbox.pipeline.form_confirmation import NewFormSender, queue_confirmations
from inbox.sla.policy import Target
from inbox.store.engine import now
from inbox.store.sla_clocks import clocks_for
from inbox.store.tables import (
    attachments,
    contacts,
    conversation_refs,
    conversations,
    events,
    identities,
    merge_suggestions,
    message_vectors,
    messages,
    outbox,
    quarantine,
)
from inbox.text import content_hash, find_references, format_reference

FORM_IDENTITY = "form"  # a web form sender: a typed address that proves nothing yet
# Channels where a customer's next message simply continues the open conversation.
SESSION_CHANNELS = frozenset({"webchat", "telegram"})

Outcome = Literal["new", "joined", "duplicate", "already_stored", "quarantined", "command"]
ACK_WINDOW = 3600.0  # acknowledgements to one email address are limited per hour
SPLIT_MIN_WORDS = 12  # a reply shorter than this is never judged off-topic


@dataclass(frozen=True)
class IngestPlan:
    """One claimed message with the decisions made for it before the transaction."""

    envelope: Envelope
    reference: int
    routing: RoutingDecision | None
    triage: TriageDecision
    vector: Vectors | None = None


@dataclass(frozen=True)
class IngestResult:
    """What became of one message."""

    outcome: Outcome
    reference: int
    conversation_id: int
    quarantine_id: int | None = None


def acknowledgement_text(
    reference: int, team: TeamSettings, is_fallback: bool, within: float | None, business: bool
) -> str:
    """The instant answer a customer gets for a new ticket; ``within`` is the first-response
    target in seconds (of business time when ``business``)."""
    who = "Our support team" if is_fallback else f"The {team.display_name} team"
    promise = "will answer you as soon as possible."
    if within is not None:
        hours = within / 3600
        unit = "business " if business else ""
        span = (
            f"{round(hours * 60)} {unit}minutes"
            if hours < 1
            else f"1 {unit}hour"
            if hours == 1
            else f"{hours:g} {unit}hours"
        )
        promise = f"usually answers within {span}."
    return (
        f"Thank you, we have your message. Your ticket is {format_reference(reference)}. "
        f"{who} {promise}"
    )


def follow_up_text(reference: int) -> str:
    """The answer to a message that joined an existing ticket."""
    return (
        f"Thank you, we have added your message to ticket {format_reference(reference)}. "
        "The team handling it will answer there."
    )


@dataclass(eq=False)
class _Conversation:
    """A conversation the batch touches: existing (id known) or new (id after insert)."""

    conversation_id: int | None
    reference: int
    contact_id: int
    status: str = Status.NEW.value
    new: bool = False
    reopen: bool = False
    plan: IngestPlan | None = None


@dataclass(eq=False)
class _Inbound:
    """One inbound message to insert."""

    plan: IngestPlan
    digest: str
    target: _Conversation
    outcome: Outcome
    duplicate_of: int | None = None
    duplicate_of_batch: _Inbound | None = None
    message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    similar: DuplicateDecision | None = None
    similar_to: _Conversation | None = None  # a possible duplicate, for an agent to confirm


def _pairs_in(
    first: ColumnElement[Any], second: ColumnElement[Any], pairs: list[tuple[str, str]]
) -> ColumnElement[bool]:
    """``first IN (...) AND second IN (...)``: a superset of the pairs that, unlike a
    row-value IN, SQLite answers from the two-column index. Callers keep exact pairs."""
    return and_(first.in_({a for a, _ in pairs}), second.in_({b for _, b in pairs}))


async def _insert_keyed(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> list[int]:
    """Inserts rows in one executemany and returns their ids, found by a unique key.

    (An INSERT ... RETURNING that keeps the rows' order runs row by row on SQLite, which
    costs more than the whole rest of the batch.)
    """
    await conn.execute(insert(table), rows)
    wanted = [tuple(row[k] for k in key) for row in rows]
    columns = [table.c[k] for k in key]
    condition = (
        columns[0].in_([w[0] for w in wanted])
        if len(columns) == 1
        else _pairs_in(columns[0], columns[1], [(w[0], w[1]) for w in wanted])
    )
    found = {
        tuple(row[1:]): int(row[0])
        for row in await conn.execute(select(table.c.id, *columns).where(condition))
    }  # a superset when the key has two columns; only the wanted keys are read from it
    return [found[w] for w in wanted]


class _BatchState:
    """What the bulk look-ups found, plus what this batch has created so far."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], tuple[int, int]] = {}
        self.contacts: dict[tuple[str, str], int] = {}
        self.earlier: dict[tuple[int, str], tuple[int, int, float]] = {}
        self.by_reference: dict[int, tuple[int, int, int]] = {}
        self.open_sessions: dict[tuple[str, str], _Conversation] = {}
        self.known: dict[int, _Conversation] = {}
        self.in_batch_hash: dict[tuple[int, str], _Inbound] = {}
        self.taken_references: set[int] = set()
        self.by_thread_key: dict[str, tuple[int, int, int]] = {}
        self.mail_copies: dict[str, int] = {}  # Message-ID key -> first stored message id
        self.in_batch_copies: dict[tuple[int, str], _Inbound] = {}
        self.thread_refs: dict[int, list[int]] = {}  # envelope index -> our Message-IDs' refs
        # Per contact: earlier messages in open conversations, and their embeddings.
        self.similar: dict[int, list[tuple[Candidate, Vectors]]] = {}
        self.similar_in_batch: dict[int, list[tuple[_Inbound, Vectors]]] = {}
        self.teams: dict[int, str] = {}  # conversation id -> team, of those compared with
        self.new_identities: set[tuple[str, str]] = set()  # created by this batch


async def _look_up(
    conn: AsyncConnection, plans: list[IngestPlan], state: _BatchState, secret: bytes
) -> None:
    envs = [p.envelope for p in plans]
    row: Any
    keys = list({(e.channel, e.external_id) for e in envs})
    for row in await conn.execute(
        select(
            messages.c.channel,
            messages.c.external_id,
            messages.c.conversation_id,
            conversations.c.reference,
        )
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(_pairs_in(messages.c.channel, messages.c.external_id, keys))
    ):
        state.stored[(row[0], row[1])] = (int(row[2]), int(row[3]))

    pairs = list({(e.identity_channel, e.address) for e in envs})
    for row in await conn.execute(
        select(identities.c.channel, identities.c.address, identities.c.contact_id).where(
            _pairs_in(identities.c.channel, identities.c.address, pairs)
        )
    ):
        state.contacts[(row[0], row[1])] = int(row[2])

    quoted = {ref for e in envs for ref in find_references(e.subject, e.text)}
    for i, env in enumerate(envs):
        ours = [reference_in_message_id(secret, mid) for mid in env.thread_ids]
        state.thread_refs[i] = [ref for ref in ours if ref is not None]
        quoted.update(state.thread_refs[i])
    keys_wanted = {thread_key(mid) for e in envs for mid in e.thread_ids}
    keys_wanted |= {thread_key(e.meta["message_id"]) for e in envs if e.meta.get("message_id")}
    if keys_wanted:
        for row in await conn.execute(
            select(
                messages.c.thread_key,
                messages.c.id,
                conversations.c.id,
                conversations.c.contact_id,
                conversations.c.reference,
                conversations.c.status,
            )
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(messages.c.thread_key.in_(keys_wanted))
        ):
            state.by_thread_key[row[0]] = (int(row[2]), int(row[3]), int(row[4]))
            state.mail_copies.setdefault(row[0], int(row[1]))
            state.known.setdefault(
                int(row[2]), _Conversation(int(row[2]), int(row[4]), int(row[3]), row[5])
            )
    reserved = {p.reference for p in plans}
    if quoted or reserved:
        for row in await conn.execute(
            select(
                conversation_refs.c.reference,
                conversations.c.id,
                conversations.c.contact_id,
                conversations.c.reference,
                conversations.c.status,
            )
            .join(conversations, conversations.c.id == conversation_refs.c.conversation_id)
            .where(conversation_refs.c.reference.in_(quoted | reserved))
        ):
            state.taken_references.add(int(row[0]))
            state.by_reference[int(row[0])] = (int(row[1]), int(row[2]), int(row[3]))
            state.known.setdefault(
                int(row[1]), _Conversation(int(row[1]), int(row[3]), int(row[2]), row[4])
            )

    sessions = list({(e.channel, e.address) for e in envs if e.channel in SESSION_CHANNELS})
    if sessions:
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
                _pairs_in(conversations.c.channel, conversations.c.address, sessions),
                conversations.c.status != Status.RESOLVED.value,
            )
            .order_by(conversations.c.id)
        ):
            found = state.known.setdefault(
                int(row[0]), _Conversation(int(row[0]), int(row[1]), int(row[2]), row[3])
            )
            state.open_sessions[(row[4], row[5])] = found


async def _look_up_duplicates(
    conn: AsyncConnection, digests: set[str], since: float, state: _BatchState
) -> None:
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
        state.earlier.setdefault(key, (int(row[2]), int(row[3]), float(row[4])))
        state.known.setdefault(
            int(row[3]), _Conversation(int(row[3]), int(row[5]), int(row[0]), row[6])
        )


async def _look_up_similar(
    conn: AsyncConnection, contact_ids: set[int], since: float, model: str, state: _BatchState
) -> None:
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
        state.similar.setdefault(contact, []).append((candidate, vector_of(row[2])))
        state.teams[conversation] = row[7]
        state.known.setdefault(
            conversation, _Conversation(conversation, int(row[5]), contact, row[6])
        )


def _similar_earlier(
    plan: IngestPlan, contact_id: int, state: _BatchState, deduper: Deduper, earliest: float
) -> tuple[DuplicateDecision, _Conversation | None, _Inbound | None] | None:
    """The customer's closest earlier message in an open conversation since ``earliest``.

    Returns the decision, the conversation it points at, and — when the earlier message
    is in this same batch — that message.
    """
    if plan.vector is None:
        return None
    stored = [(c, v) for c, v in state.similar.get(contact_id, []) if c.created_at >= earliest]
    in_batch = state.similar_in_batch.get(contact_id, [])
    if not stored and not in_batch:
        return None
    candidates = [c for c, _ in stored] + [
        Candidate(0, 0, m.target.reference, m.plan.envelope.received_at) for m, _ in in_batch
    ]
    vectors = np.vstack([v for _, v in stored] + [v for _, v in in_batch])
    decision = deduper.decide(plan.vector, candidates, vectors)
    if decision.candidate is None:
        return decision, None, None
    position = candidates.index(decision.candidate)
    if position < len(stored):
        return decision, state.known[decision.candidate.conversation_id], None
    original = in_batch[position - len(stored)][0]
    return decision, original.target, original


async def _create_contacts(
    conn: AsyncConnection,
    plans: list[IngestPlan],
    state: _BatchState,
    tier_of: Callable[[Envelope], str],
) -> None:
    missing: dict[tuple[str, str], Envelope] = {}
    for plan in plans:
        env = plan.envelope
        key = (env.identity_channel, env.address)
        if key not in state.contacts and (env.channel, env.external_id) not in state.stored:
            missing.setdefault(key, env)
    if not missing:
        return
    stamp = now()
    ids = await _insert_keyed(
        conn,
        contacts,
        [
            {
                "uid": uuid.uuid4().hex,
                "name": e.sender_name,
                "tier": tier_of(e),
                "created_at": stamp,
            }
            for e in missing.values()
        ],
        ("uid",),
    )
    for key, contact_id in zip(missing, ids, strict=True):
        state.contacts[key] = int(contact_id)
    state.new_identities.update(missing)
    await conn.execute(
        insert(identities),
        [
            {
                "contact_id": state.contacts[key],
                "channel": key[0],
                "address": key[1],
                "verified": False,
            }
            for key in missing
        ],
    )


def _decide(
    plan: IngestPlan,
    state: _BatchState,
    settings: Settings,
    thread_refs: list[int],
    deduper: Deduper | None,
) -> _Inbound | IngestResult:
    env = plan.envelope
    contact_id = state.contacts[(env.identity_channel, env.address)]
    digest = content_hash(env.subject, env.text)
    window = settings.dedup_window_minutes * 60

    # Another copy of a mail already stored (same Message-ID, same sender: a redelivery,
    # the same mail in two folders or with other headers): kept, never answered again.
    own_key = thread_key(env.meta["message_id"]) if env.meta.get("message_id") else ""
    copy_in_batch = state.in_batch_copies.get((contact_id, own_key)) if own_key else None
    if copy_in_batch is not None:
        return _Inbound(
            plan, digest, copy_in_batch.target, "duplicate", duplicate_of_batch=copy_in_batch
        )
    stored_copy = state.by_thread_key.get(own_key) if own_key else None
    if stored_copy is not None and stored_copy[1] == contact_id:
        return _Inbound(
            plan,
            digest,
            state.known[stored_copy[0]],
            "duplicate",
            duplicate_of=state.mail_copies[own_key],
        )

    earlier_batch = state.in_batch_hash.get((contact_id, digest))
    if (
        earlier_batch is not None
        and env.received_at - earlier_batch.plan.envelope.received_at <= window
    ):
        return _Inbound(
            plan, digest, earlier_batch.target, "duplicate", duplicate_of_batch=earlier_batch
        )
    earlier = state.earlier.get((contact_id, digest))
    if earlier is not None and earlier[2] >= env.received_at - window:
        return _Inbound(plan, digest, state.known[earlier[1]], "duplicate", duplicate_of=earlier[0])

    # A report on one of our mails (a bounce, a complaint, a read receipt) comes from a
    # mail server or provider, not from the customer: our signed Message-ID in it, which
    # only the mail's recipients saw, is enough to keep it on that conversation.
    if env.automated:
        for ref in thread_refs:
            reported_on = state.by_reference.get(ref)
            if reported_on is not None:
                return _Inbound(plan, digest, state.known[reported_on[0]], "joined")

    # Threading, strongest evidence first: the email headers (our own Message-IDs, then
    # the customer's earlier mails), then a ticket reference in the subject or text.
    # Only ever into a conversation of the same contact.
    threads: list[tuple[int, int, int] | None] = [state.by_reference.get(r) for r in thread_refs]
    threads += [state.by_thread_key.get(thread_key(mid)) for mid in env.thread_ids]
    threads += [state.by_reference.get(r) for r in find_references(env.subject, env.text)]
    for found in threads:
        if found is not None and found[1] == contact_id:
            split = _changed_topic(plan, contact_id, found[0], state, settings)
            if split is None:
                return _Inbound(plan, digest, state.known[found[0]], "joined")
            # A substantial reply about something else entirely: its own ticket, linked.
            target = _Conversation(None, plan.reference, contact_id, new=True, plan=plan)
            inbound = _Inbound(plan, digest, target, "new")
            inbound.extra["split_from"] = {**split, "conversation_id": found[0]}
            return inbound
    if env.channel in SESSION_CHANNELS:
        session = state.open_sessions.get((env.channel, env.address))
        if session is not None:
            return _Inbound(plan, digest, session, "joined")

    # The same issue again, in other words or on another channel: one ticket.
    earliest = env.received_at - window
    similar = _similar_earlier(plan, contact_id, state, deduper, earliest) if deduper else None
    if similar is not None and similar[0].verdict == "merge":
        decision, conversation, original = similar
        assert decision.candidate is not None and conversation is not None
        return _Inbound(
            plan,
            digest,
            conversation,
            "duplicate",
            duplicate_of=None if original else decision.candidate.message_id,
            duplicate_of_batch=original,
            similar=decision,
        )

    # A new email with no thread headers or ticket token that clearly continues one of
    # the customer's open conversations (a "new" mail instead of a reply) joins it.
    if deduper is not None and env.channel in settings.email_channels:
        earliest = env.received_at - settings.dedup.stitch_days * 86400
        continued = _similar_earlier(plan, contact_id, state, deduper, earliest)
        if continued is not None and continued[1] is not None:
            decision = continued[0]
            if decision.similarity >= settings.dedup.stitch:
                stitched = _Inbound(plan, digest, continued[1], "joined", similar=decision)
                stitched.extra["stitched"] = {
                    **decision.evidence(),
                    "verdict": "stitched",
                    "stitch_threshold": settings.dedup.stitch,
                }
                return stitched

    target = _Conversation(None, plan.reference, contact_id, new=True, plan=plan)
    if env.channel in SESSION_CHANNELS:
        state.open_sessions[(env.channel, env.address)] = target
    inbound = _Inbound(plan, digest, target, "new")
    if similar is not None and similar[0].verdict == "suggest":
        inbound.similar, inbound.similar_to = similar[0], similar[1]
    return inbound


def _changed_topic(
    plan: IngestPlan, contact_id: int, conversation_id: int, state: _BatchState, settings: Settings
) -> dict[str, Any] | None:
    """Evidence that a threaded email reply is about something else entirely, or None.

    Only a reply of some length is judged (a short "thanks" says nothing of its topic),
    only against the conversation's own recent messages, and only when the router is
    sure it belongs to another team: unlike words alone are weak evidence (one in twenty
    paraphrase pairs of BANKING77 are less than 0.3 similar).
    """
    split_below = settings.dedup.split_below
    routing = plan.routing
    if (
        plan.vector is None
        or routing is None
        or routing.abstained
        or routing.team == state.teams.get(conversation_id, routing.team)
        or split_below <= -1.0
        or plan.envelope.channel not in settings.email_channels
        or len(plan.envelope.routing_text.split()) < SPLIT_MIN_WORDS
    ):
        return None
    earlier = [
        v for c, v in state.similar.get(contact_id, []) if c.conversation_id == conversation_id
    ]
    if not earlier:
        return None
    similarity = float((np.vstack(earlier) @ plan.vector).max())
    if similarity >= split_below:
        return None
    return {
        "similarity": round(similarity, 4),
        "split_below": split_below,
        "team": routing.team,
        "thread_team": state.teams[conversation_id],
    }


async def ingest_batch(
    conn: AsyncConnection,
    plans: list[IngestPlan],
    settings: Settings,
    tier_of: Callable[[Envelope], str],
    deduper: Deduper | None = None,
    model: str = "",
) -> list[IngestResult]:
    """Stores a batch of inbound messages; each new ticket gets its acknowledgement queued.

    With a ``deduper``, messages carrying an embedding are compared with the customer's
    open conversations (embeddings of the same ``model`` only) and merged or suggested.
    """
    if not plans:
        return []
    # Machine-made mail (a bounce, a complaint, a read receipt, an auto-reply) is nobody's
    # question: its words choose no team (it lands in the fallback team when it opens a
    # ticket), and it is never compared by meaning, so it neither merges with a
    # customer's message nor counts as a customer towards an incident.
    plans = [
        dataclasses.replace(p, routing=None, vector=None) if p.envelope.automated else p
        for p in plans
    ]
    if any(p.envelope.is_command for p in plans):
        # Messages first, so a command sees the conversation a message in the same batch
        # opened; then the commands, in order.
        others = await ingest_batch(
            conn,
            [p for p in plans if not p.envelope.is_command],
            settings,
            tier_of,
            deduper,
            model,
        )
        answered: dict[int, IngestResult] = {}
        for p in plans:
            if p.envelope.is_command:
                first_time = await answer_command(conn, p.envelope, settings)
                answered[id(p)] = IngestResult("command" if first_time else "already_stored", 0, 0)
        return _merged(plans, answered, others)
    kept = [p for p in plans if p.envelope.quarantine]
    if kept:
        quarantined = await _quarantine(conn, kept)
        others = await ingest_batch(
            conn,
            [p for p in plans if not p.envelope.quarantine],
            settings,
            tier_of,
            deduper,
            model,
        )
        return _merged(plans, quarantined, others)
    state = _BatchState()
    await _look_up(conn, plans, state, settings.secret)
    window = settings.dedup_window_minutes * 60
    fresh = [p for p in plans if (p.envelope.channel, p.envelope.external_id) not in state.stored]
    digests = {content_hash(p.envelope.subject, p.envelope.text) for p in fresh}
    since = min((p.envelope.received_at for p in fresh), default=0.0) - window
    await _look_up_duplicates(conn, digests, since, state)
    await _create_contacts(conn, plans, state, tier_of)
    if deduper is not None:
        with_vectors = [p for p in fresh if p.vector is not None]
        contact_ids = {
            state.contacts[(p.envelope.identity_channel, p.envelope.address)] for p in with_vectors
        }
        stitch_since = since + window - settings.dedup.stitch_days * 86400
        await _look_up_similar(conn, contact_ids, min(since, stitch_since), model, state)

    decided: list[_Inbound | IngestResult] = []
    seen_keys: dict[tuple[str, str], _Inbound] = {}
    for index, plan in enumerate(plans):
        env = plan.envelope
        key = (env.channel, env.external_id)
        if key in state.stored:
            conversation_id, reference = state.stored[key]
            decided.append(IngestResult("already_stored", reference, conversation_id))
            continue
        if key in seen_keys:  # the same message twice in one batch
            decided.append(seen_keys[key])
            continue
        outcome = _decide(plan, state, settings, state.thread_refs.get(index, []), deduper)
        decided.append(outcome)
        if isinstance(outcome, _Inbound):
            seen_keys[key] = outcome
            contact = outcome.target.contact_id
            if plan.vector is not None and outcome.outcome != "duplicate":
                state.similar_in_batch.setdefault(contact, []).append((outcome, plan.vector))
            state.in_batch_hash.setdefault((contact, outcome.digest), outcome)
            if env.meta.get("message_id"):
                copy_key = (contact, thread_key(env.meta["message_id"]))
                state.in_batch_copies.setdefault(copy_key, outcome)

    inbound = list(dict.fromkeys(d for d in decided if isinstance(d, _Inbound)))
    await _write(conn, inbound, state, settings, model)
    await queue_confirmations(conn, _new_form_senders(inbound, state), settings)
    results: list[IngestResult] = []
    for d in decided:
        if isinstance(d, IngestResult):
            results.append(d)
        else:
            assert d.target.conversation_id is not None
            results.append(IngestResult(d.outcome, d.target.reference, d.target.conversation_id))
    return results


def _new_form_senders(inbound: list[_Inbound], state: _BatchState) -> list[NewFormSender]:
    """Form senders first seen in this batch, with the ticket their message opened."""
    found: dict[str, NewFormSender] = {}
    for m in inbound:
        env = m.plan.envelope
        key = (env.identity_channel, env.address)
        if env.identity_channel == FORM_IDENTITY and key in state.new_identities:
            assert m.target.conversation_id is not None
            found.setdefault(
                env.address,
                NewFormSender(env.address, m.target.conversation_id, m.target.reference),
            )
    return list(found.values())


def _merged(
    plans: list[IngestPlan], special: dict[int, IngestResult], others: list[IngestResult]
) -> list[IngestResult]:
    """Results in the plans' order: ``special`` ones by plan, the rest from ``others``."""
    rest = iter(others)
    return [special[id(p)] if id(p) in special else next(rest) for p in plans]


async def _write(
    conn: AsyncConnection,
    inbound: list[_Inbound],
    state: _BatchState,
    settings: Settings,
    model: str,
) -> None:
    stamp = now()
    clocks = clocks_for(settings)
    customer_wrote: dict[int, float] = {}  # conversation id -> its customer's first message
    new = [m.target for m in inbound if m.outcome == "new"]
    if new:
        highest: int | None = None
        for conv in new:
            if conv.reference in state.taken_references:  # a queue reset under a kept store
                if highest is None:
                    highest = int(
                        await conn.scalar(select(func.max(conversation_refs.c.reference))) or 0
                    )
                    highest = max(highest, *state.taken_references)
                highest += 1
                conv.reference = highest
            state.taken_references.add(conv.reference)
        rows = []
        for conv in new:
            assert conv.plan is not None
            env, routing = conv.plan.envelope, conv.plan.routing
            team = settings.team(routing.team if routing else settings.routing.fallback_team)
            rows.append(
                {
                    "reference": conv.reference,
                    "contact_id": conv.contact_id,
                    "channel": env.channel,
                    "address": env.address,
                    "subject": env.subject[:300],
                    "status": Status.NEW.value,
                    "team": team.name,
                    "priority": int(conv.plan.triage.priority),
                    "created_at": env.received_at,
                    "updated_at": stamp,
                    "first_response_due": clocks.due(
                        team.name, conv.plan.triage.priority, Target.FIRST_RESPONSE, env.received_at
                    ),
                }
            )
        ids = await _insert_keyed(conn, conversations, rows, ("reference",))
        for conv, conversation_id in zip(new, ids, strict=True):
            conv.conversation_id = int(conversation_id)
        starts = []
        for conv in new:
            assert conv.plan is not None and conv.conversation_id is not None
            routing = conv.plan.routing
            team_name = routing.team if routing else settings.routing.fallback_team
            for target in (Target.FIRST_RESPONSE, Target.RESOLUTION):
                starts.append(
                    (
                        conv.conversation_id,
                        team_name,
                        conv.plan.triage.priority,
                        target,
                        conv.plan.envelope.received_at,
                    )
                )
        await clocks.start(conn, starts)

    refs = [{"reference": c.reference, "conversation_id": c.conversation_id} for c in new]
    for m in inbound:
        if m.outcome != "new" and m.plan.reference not in state.taken_references:
            state.taken_references.add(m.plan.reference)
            refs.append(
                {"reference": m.plan.reference, "conversation_id": m.target.conversation_id}
            )
    if refs:
        await conn.execute(insert(conversation_refs), refs)

    # Originals first, so a duplicate inside the batch can point at its original's id.
    for group in (
        [m for m in inbound if m.duplicate_of_batch is None],
        [m for m in inbound if m.duplicate_of_batch is not None],
    ):
        if not group:
            continue
        message_rows = []
        for m in group:
            env = m.plan.envelope
            duplicate_of = m.duplicate_of
            if m.duplicate_of_batch is not None:
                duplicate_of = m.duplicate_of_batch.message_id
            message_rows.append(
                {
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
                    "meta": _message_meta(env),
                    "thread_key": thread_key(env.meta["message_id"])
                    if env.meta.get("message_id")
                    else None,
                }
            )
        ids = await _insert_keyed(conn, messages, message_rows, ("channel", "external_id"))
        for m, message_id in zip(group, ids, strict=True):
            m.message_id = int(message_id)
    files = [
        {
            "message_id": m.message_id,
            "quarantine_id": None,
            **_attachment_row(a, stamp),
        }
        for m in inbound
        for a in m.plan.envelope.attachments
    ]
    if files:
        await conn.execute(insert(attachments), files)
    vector_rows = [
        {
            "message_id": m.message_id,
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
    suggestions = [m for m in inbound if m.similar_to is not None and m.similar is not None]
    if suggestions:
        await conn.execute(
            insert(merge_suggestions),
            [
                {
                    "conversation_id": m.target.conversation_id,
                    "candidate_id": m.similar_to.conversation_id,
                    "similarity": m.similar.similarity,
                    "state": "open",
                    "created_at": stamp,
                }
                for m in suggestions
                if m.similar_to is not None and m.similar is not None
            ],
        )

    event_rows: list[dict[str, Any]] = []

    def event(conv: _Conversation, kind: str, actor: str, data: dict[str, Any]) -> None:
        event_rows.append(
            {
                "conversation_id": conv.conversation_id,
                "kind": kind,
                "actor": actor,
                "data": data,
                "created_at": stamp,
            }
        )

    touched: dict[int, _Conversation] = {}
    for m in inbound:
        env = m.plan.envelope
        if m.outcome == "new":
            event(
                m.target,
                "created",
                "worker",
                {"channel": env.channel, "external_id": env.external_id},
            )
            if m.plan.routing is not None:
                event(m.target, "routed", "router", m.plan.routing.evidence())
            triage = m.plan.triage
            event(
                m.target,
                "triaged",
                "triage",
                {
                    "priority": triage.priority.name.lower(),
                    "reasons": list(triage.reasons),
                    "language": triage.language,
                },
            )
            if env.automated:
                event(m.target, "automated_message", "worker", _automated(env))
            if m.similar is not None and m.similar_to is not None:
                evidence = {**m.similar.evidence(), "conversation_id": m.similar_to.conversation_id}
                event(m.target, "possible_duplicate", "deduper", evidence)
            split = m.extra.get("split_from")
            if split is not None:
                origin = state.known[split["conversation_id"]]
                event(m.target, "split_from", "deduper", {**split, "reference": origin.reference})
                event(origin, "split_to", "deduper", {**split, "reference": m.target.reference})
        elif m.outcome == "duplicate":
            original = m.duplicate_of_batch.message_id if m.duplicate_of_batch else m.duplicate_of
            merged: dict[str, Any] = {
                "channel": env.channel,
                "external_id": env.external_id,
                "duplicate_of_message": original,
            }
            if m.similar is not None:
                merged["similar"] = {**m.similar.evidence(), "message_id": original}
            event(m.target, "duplicate_merged", "deduper" if m.similar else "worker", merged)
        elif env.automated:  # an auto-reply or a bounce: noted, never reopens anything
            event(m.target, "automated_message", "worker", _automated(env))
        else:
            data: dict[str, Any] = {"channel": env.channel, "external_id": env.external_id}
            if not m.target.new and m.target.status in (
                Status.RESOLVED.value,
                Status.PENDING.value,
            ):
                if m.target.status == Status.RESOLVED.value:
                    data["reopened"] = True
                m.target.reopen = True
            event(m.target, "customer_replied", "customer", data)
            if not m.target.new and m.target.conversation_id is not None:
                cid = m.target.conversation_id
                customer_wrote[cid] = min(customer_wrote.get(cid, env.received_at), env.received_at)
            if m.extra.get("stitched"):
                event(m.target, "stitched", "deduper", m.extra["stitched"])
        if not m.target.new and m.target.conversation_id is not None:
            touched[m.target.conversation_id] = m.target

    if touched:
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == bindparam("cid"))
            .values(updated_at=bindparam("stamp")),
            [{"cid": cid, "stamp": stamp} for cid in touched],
        )
        reopened = [cid for cid, conv in touched.items() if conv.reopen]
        if reopened:
            await conn.execute(
                update(conversations)
                .where(conversations.c.id.in_(reopened))
                .values(status=Status.OPEN.value)
            )
    if customer_wrote:
        await clocks.customer_wrote(conn, customer_wrote)
    started = [c.conversation_id for c in new if c.conversation_id is not None]
    await clocks.refresh(conn, [*started, *customer_wrote])

    # A new ticket is acknowledged; so is a follow-up that joined a ticket by its
    # reference on the web form, which tells the customer which ticket it joined. Chat
    # follow-ups are the conversation itself; duplicates get none.
    # Machine-made mail is never answered: that is how loops with auto-responders start.
    # A follow-up by email is already in the thread: no acknowledgement for it either.
    quiet_follow_ups = SESSION_CHANNELS | settings.email_channels
    acks = [
        m
        for m in inbound
        if not m.plan.envelope.automated
        and (
            m.outcome == "new"
            or (m.outcome == "joined" and m.plan.envelope.channel not in quiet_follow_ups)
        )
    ]
    acks, suppressed = await _limit_acknowledgements(conn, acks, settings, stamp)
    for m in suppressed:
        event(
            m.target,
            "acknowledgement_suppressed",
            "worker",
            {"reason": "too many acknowledgements to this address in the last hour"},
        )
    if acks:
        ack_rows = []
        for m in acks:
            env, routing = m.plan.envelope, m.plan.routing
            if m.outcome == "new":
                team = settings.team(routing.team if routing else settings.routing.fallback_team)
                is_fallback = team.name == settings.routing.fallback_team
                priority = m.plan.triage.priority
                text = acknowledgement_text(
                    m.target.reference,
                    team,
                    is_fallback,
                    clocks.allowed(team.name, priority, Target.FIRST_RESPONSE),
                    clocks.business_hours_only(team.name),
                )
            else:
                text = follow_up_text(m.target.reference)
            ack_rows.append(
                {
                    "conversation_id": m.target.conversation_id,
                    "direction": "out",
                    "channel": env.channel,
                    "external_id": f"out:{uuid.uuid4().hex}",
                    "author": "bot",
                    "agent_id": None,
                    "internal": False,
                    "subject": env.subject,
                    "text": text,
                    "content_hash": None,
                    "duplicate_of": None,
                    "created_at": stamp,
                }
            )
        ack_ids = await _insert_keyed(conn, messages, ack_rows, ("channel", "external_id"))
        await conn.execute(
            insert(outbox),
            [
                {
                    "message_id": int(message_id),
                    "conversation_id": m.target.conversation_id,
                    "channel": m.plan.envelope.channel,
                    "address": m.plan.envelope.address,
                    "kind": "acknowledgement",
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": stamp,
                    "created_at": stamp,
                }
                for m, message_id in zip(acks, ack_ids, strict=True)
            ],
        )
        for m, message_id in zip(acks, ack_ids, strict=True):
            event(m.target, "acknowledged", "worker", {"message_id": int(message_id)})

    if event_rows:
        await conn.execute(insert(events), event_rows)


def _automated(env: Envelope) -> dict[str, Any]:
    return {"channel": env.channel, "external_id": env.external_id, "reason": env.automated}


def _message_meta(env: Envelope) -> dict[str, Any] | None:
    meta: dict[str, Any] = dict(env.meta)
    if env.automated:
        meta["automated"] = env.automated
    return meta or None


def _attachment_row(a: Attachment, stamp: float) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "filename": a.filename[:255],
        "content_type": a.content_type[:127],
        "size": a.size,
        "omitted": a.omitted,
        "data": a.data,
        "created_at": stamp,
    }


async def _limit_acknowledgements(
    conn: AsyncConnection, acks: list[_Inbound], settings: Settings, stamp: float
) -> tuple[list[_Inbound], list[_Inbound]]:
    """Splits acknowledgements into those to send and those over an email address's limit.

    An auto-responder that slips past the headers still cannot start an endless loop.
    """
    limits = {box.name: box.acknowledgements_per_hour for box in settings.email}
    limited = [m for m in acks if m.plan.envelope.channel in limits]
    if not limited:
        return acks, []
    pairs = list({(m.plan.envelope.channel, m.plan.envelope.address) for m in limited})
    sent: dict[tuple[str, str], int] = {}
    row: Any
    for row in await conn.execute(
        select(outbox.c.channel, outbox.c.address, func.count())
        .where(
            _pairs_in(outbox.c.channel, outbox.c.address, pairs),
            outbox.c.kind == "acknowledgement",
            outbox.c.created_at >= stamp - ACK_WINDOW,
        )
        .group_by(outbox.c.channel, outbox.c.address)
    ):
        sent[(row[0], row[1])] = int(row[2])
    keep: list[_Inbound] = []
    dropped: list[_Inbound] = []
    for m in acks:
        env = m.plan.envelope
        limit = limits.get(env.channel)
        key = (env.channel, env.address)
        if limit is not None and sent.get(key, 0) >= limit:
            dropped.append(m)
            continue
        sent[key] = sent.get(key, 0) + 1
        keep.append(m)
    return keep, dropped


async def _quarantine(conn: AsyncConnection, plans: list[IngestPlan]) -> dict[int, IngestResult]:
    """Keeps messages that cannot become tickets, once each, with their files and reason."""
    keys = list({(p.envelope.channel, p.envelope.external_id) for p in plans})
    known = {
        (row[0], row[1]): int(row[2])
        for row in await conn.execute(
            select(quarantine.c.channel, quarantine.c.external_id, quarantine.c.id).where(
                _pairs_in(quarantine.c.channel, quarantine.c.external_id, keys)
            )
        )
    }
    stamp = now()
    fresh: dict[tuple[str, str], Envelope] = {}
    for p in plans:
        key = (p.envelope.channel, p.envelope.external_id)
        if key not in known:
            fresh.setdefault(key, p.envelope)
    if fresh:
        ids = await _insert_keyed(
            conn,
            quarantine,
            [
                {
                    "channel": e.channel,
                    "external_id": e.external_id,
                    "reason": e.quarantine,
                    "sender": e.address[:320],
                    "subject": e.subject[:300],
                    "received_at": e.received_at,
                    "created_at": stamp,
                    "text": e.text,
                }
                for e in fresh.values()
            ],
            ("channel", "external_id"),
        )
        known.update(zip(fresh, ids, strict=True))
        files = [
            {"message_id": None, "quarantine_id": known[key], **_attachment_row(a, stamp)}
            for key, e in fresh.items()
            for a in e.attachments
        ]
        if files:
            await conn.execute(insert(attachments), files)
    return {
        id(p): IngestResult("quarantined", 0, known[(p.envelope.channel, p.envelope.external_id)])
        for p in plans
    }
