"""The ingest's decision for one message: which conversation it goes to, and as what.

A pure step: it reads what the look-ups found (``BatchState``) and writes nothing to
the store. The evidence is tried strongest first: another copy of the same message,
the email headers, a ticket reference, the chat session, then the words' meaning.
"""

from __future__ import annotations

import numpy as np

from classifiers.dedup import Candidate, Deduper
from inbox.config.settings import Settings
from inbox.message_ids import thread_key
from inbox.pipeline.ingest.plan import SESSION_CHANNELS, IngestPlan, own_thread_key
from inbox.pipeline.ingest.state import (
    BatchState,
    Conversation,
    Inbound,
    SimilarFound,
    Stitch,
    Thread,
    TopicSplit,
)
from inbox.text import content_hash, find_references

SPLIT_MIN_WORDS = 12  # a reply shorter than this is never judged off-topic


def decide(
    plan: IngestPlan,
    state: BatchState,
    settings: Settings,
    thread_refs: list[int],
    deduper: Deduper | None,
) -> Inbound:
    """Where ``plan``'s message goes; ``thread_refs`` are the tickets named by our own
    Message-IDs it answers. A new conversation it opens is noted in ``state``."""
    env = plan.envelope
    contact_id = state.contacts[(env.identity_channel, env.address)]
    digest = content_hash(env.subject, env.text)
    decided = _copy(plan, contact_id, digest, state, settings) or _threaded(
        plan, contact_id, digest, state, settings, thread_refs
    )
    if decided is not None:
        return decided

    # The same issue again, in other words or on another channel: one ticket.
    earliest = env.received_at - settings.dedup_window_minutes * 60
    similar = _similar_earlier(plan, contact_id, state, deduper, earliest) if deduper else None
    if similar is not None and similar.decision.verdict == "merge":
        candidate = similar.decision.candidate
        assert candidate is not None and similar.conversation is not None
        return Inbound(
            plan,
            digest,
            similar.conversation,
            "duplicate",
            duplicate_of=None if similar.original else candidate.message_id,
            duplicate_of_batch=similar.original,
            similar=similar.decision,
        )
    stitched = _stitched(plan, contact_id, digest, state, settings, deduper)
    if stitched is not None:
        return stitched

    target = Conversation(None, plan.reference, contact_id, new=True, plan=plan)
    if env.channel in SESSION_CHANNELS:
        state.open_sessions[(env.channel, env.address)] = target
    if similar is not None and similar.decision.verdict == "suggest":
        return Inbound(
            plan, digest, target, "new", similar=similar.decision, similar_to=similar.conversation
        )
    return Inbound(plan, digest, target, "new")


def _copy(
    plan: IngestPlan, contact_id: int, digest: str, state: BatchState, settings: Settings
) -> Inbound | None:
    """A duplicate of a message this customer sent before: the same mail again, or the
    same words within the dedup window."""
    env = plan.envelope
    # Another copy of a mail already stored (same Message-ID, same sender: a redelivery,
    # the same mail in two folders or with other headers): kept, never answered again.
    own_key = own_thread_key(env)
    copy_in_batch = state.in_batch_copies.get((contact_id, own_key)) if own_key else None
    if copy_in_batch is not None:
        return Inbound(
            plan, digest, copy_in_batch.target, "duplicate", duplicate_of_batch=copy_in_batch
        )
    stored_copy = state.by_thread_key.get(own_key) if own_key else None
    if stored_copy is not None and stored_copy.contact_id == contact_id:
        return Inbound(
            plan,
            digest,
            state.known[stored_copy.conversation_id],
            "duplicate",
            duplicate_of=state.mail_copies[own_key],
        )

    window = settings.dedup_window_minutes * 60
    earlier_batch = state.in_batch_hash.get((contact_id, digest))
    if (
        earlier_batch is not None
        and env.received_at - earlier_batch.plan.envelope.received_at <= window
    ):
        return Inbound(
            plan, digest, earlier_batch.target, "duplicate", duplicate_of_batch=earlier_batch
        )
    earlier = state.earlier.get((contact_id, digest))
    if earlier is not None and earlier.created_at >= env.received_at - window:
        conversation = state.known[earlier.conversation_id]
        return Inbound(plan, digest, conversation, "duplicate", duplicate_of=earlier.message_id)
    return None


def _threaded(
    plan: IngestPlan,
    contact_id: int,
    digest: str,
    state: BatchState,
    settings: Settings,
    thread_refs: list[int],
) -> Inbound | None:
    """The conversation the message continues by its headers, a ticket reference or its
    chat session; a substantial reply about something else opens its own, linked."""
    env = plan.envelope
    # A report on one of our mails (a bounce, a complaint, a read receipt) comes from a
    # mail server or provider, not from the customer: our signed Message-ID in it, which
    # only the mail's recipients saw, is enough to keep it on that conversation.
    if env.automated:
        for ref in thread_refs:
            reported_on = state.by_reference.get(ref)
            if reported_on is not None:
                return Inbound(plan, digest, state.known[reported_on.conversation_id], "joined")

    # Threading, strongest evidence first: the email headers (our own Message-IDs, then
    # the customer's earlier mails), then a ticket reference in the subject or text.
    # Only ever into a conversation of the same contact.
    threads: list[Thread | None] = [state.by_reference.get(r) for r in thread_refs]
    threads += [state.by_thread_key.get(thread_key(mid)) for mid in env.thread_ids]
    threads += [state.by_reference.get(r) for r in find_references(env.subject, env.text)]
    for found in threads:
        if found is not None and found.contact_id == contact_id:
            split = _changed_topic(plan, contact_id, found.conversation_id, state, settings)
            if split is None:
                return Inbound(plan, digest, state.known[found.conversation_id], "joined")
            # A substantial reply about something else entirely: its own ticket, linked.
            target = Conversation(None, plan.reference, contact_id, new=True, plan=plan)
            return Inbound(plan, digest, target, "new", split_from=split)
    if env.channel in SESSION_CHANNELS:
        session = state.open_sessions.get((env.channel, env.address))
        if session is not None:
            return Inbound(plan, digest, session, "joined")
    return None


def _stitched(
    plan: IngestPlan,
    contact_id: int,
    digest: str,
    state: BatchState,
    settings: Settings,
    deduper: Deduper | None,
) -> Inbound | None:
    """A new email with no thread headers or ticket token that clearly continues one of
    the customer's open conversations (a "new" mail instead of a reply) joins it."""
    env = plan.envelope
    if deduper is None or env.channel not in settings.email_channels:
        return None
    earliest = env.received_at - settings.dedup.stitch_days * 86400
    continued = _similar_earlier(plan, contact_id, state, deduper, earliest)
    if continued is None or continued.conversation is None:
        return None
    decision = continued.decision
    if decision.similarity < settings.dedup.stitch:
        return None
    stitch = Stitch(decision, settings.dedup.stitch)
    return Inbound(
        plan, digest, continued.conversation, "joined", similar=decision, stitched=stitch
    )


def _similar_earlier(
    plan: IngestPlan, contact_id: int, state: BatchState, deduper: Deduper, earliest: float
) -> SimilarFound | None:
    """The customer's closest earlier message in an open conversation since ``earliest``,
    stored or in this same batch; None when there is nothing to compare with."""
    if plan.vector is None:
        return None
    stored = [e for e in state.similar.get(contact_id, []) if e.candidate.created_at >= earliest]
    in_batch = state.similar_in_batch.get(contact_id, [])
    if not stored and not in_batch:
        return None
    candidates = [e.candidate for e in stored] + [
        Candidate(0, 0, b.inbound.target.reference, b.inbound.plan.envelope.received_at)
        for b in in_batch
    ]
    vectors = np.vstack([e.vector for e in stored] + [b.vector for b in in_batch])
    decision = deduper.decide(plan.vector, candidates, vectors)
    if decision.candidate is None:
        return SimilarFound(decision, None, None)
    position = candidates.index(decision.candidate)
    if position < len(stored):
        return SimilarFound(decision, state.known[decision.candidate.conversation_id], None)
    original = in_batch[position - len(stored)].inbound
    return SimilarFound(decision, original.target, original)


def _changed_topic(
    plan: IngestPlan, contact_id: int, conversation_id: int, state: BatchState, settings: Settings
) -> TopicSplit | None:
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
        e.vector
        for e in state.similar.get(contact_id, [])
        if e.candidate.conversation_id == conversation_id
    ]
    if not earlier:
        return None
    similarity = float((np.vstack(earlier) @ plan.vector).max())
    if similarity >= split_below:
        return None
    return TopicSplit(
        round(similarity, 4),
        split_below,
        routing.team,
        state.teams[conversation_id],
        conversation_id,
    )
