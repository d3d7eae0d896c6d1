"""Persisting a batch of inbound messages: the ingest's entry point.

Runs inside the worker's one store transaction, in steps: look up what the store knows
(``lookup``), decide where each message goes (``decide``), write it (``write``),
acknowledge new tickets (``acknowledge``); messages that cannot become tickets go to
``quarantine`` and bot commands to ``commands``. Acknowledgements go to the outbox in
the same transaction, so a message is either stored with its answer queued, or not at
all. Every step is idempotent on ``(channel, external_id)``: a redelivered message is
noticed and left alone. The work is set-based — a handful of statements per batch, not
per message — because per-statement overhead would otherwise cost more than the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.dedup import Deduper
from inbox.config.settings import Settings
from inbox.customer_links import CustomerLinks
from inbox.models import Envelope
from inbox.pipeline.bot.moves import BotTools
from inbox.pipeline.bot.step import bot_turn
from inbox.pipeline.commands import answer_command
from inbox.pipeline.form_confirmation import NewFormSender, queue_confirmations
from inbox.pipeline.ingest.acknowledge import acknowledge
from inbox.pipeline.ingest.audit import EventLog, note_arrivals
from inbox.pipeline.ingest.contacts import create_contacts
from inbox.pipeline.ingest.decide import decide
from inbox.pipeline.ingest.languages import keep_languages
from inbox.pipeline.ingest.lookup import look_up, look_up_duplicates, look_up_similar
from inbox.pipeline.ingest.plan import FORM_IDENTITY, IngestPlan, IngestResult, own_thread_key
from inbox.pipeline.ingest.policy import batch_allowance
from inbox.pipeline.ingest.quarantine import keep_in_quarantine, note_released
from inbox.pipeline.ingest.state import BatchState, BatchVector, Inbound
from inbox.pipeline.ingest.write import (
    touched_by,
    update_touched,
    write_conversations,
    write_messages,
)
from inbox.store.engine import now
from inbox.store.sla_clocks import clocks_for
from inbox.text import content_hash

# The entry point and the records it takes and gives, importable from here.
__all__ = ["IngestPlan", "IngestResult", "ingest_batch"]


async def ingest_batch(
    conn: AsyncConnection,
    plans: list[IngestPlan],
    settings: Settings,
    tier_of: Callable[[Envelope], str],
    deduper: Deduper | None = None,
    model: str = "",
    links: CustomerLinks | None = None,
) -> list[IngestResult]:
    """Stores a batch of inbound messages; each new ticket gets its acknowledgement queued.

    With a ``deduper``, messages carrying an embedding are compared with the customer's
    open conversations (embeddings of the same ``model`` only) and merged or suggested.
    With ``links`` (the customer's signed links), the bot answers what it is sure of.
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
        rest = [p for p in plans if not p.envelope.is_command]
        others = await ingest_batch(conn, rest, settings, tier_of, deduper, model, links)
        answered: dict[int, IngestResult] = {}
        for p in plans:
            if p.envelope.is_command:
                first_time = await answer_command(conn, p.envelope, settings)
                answered[id(p)] = IngestResult("command" if first_time else "already_stored", 0, 0)
        return _merged(plans, answered, others)
    kept = [p for p in plans if p.envelope.quarantine]
    if kept:
        quarantined = await keep_in_quarantine(conn, kept)
        rest = [p for p in plans if not p.envelope.quarantine]
        others = await ingest_batch(conn, rest, settings, tier_of, deduper, model, links)
        return _merged(plans, quarantined, others)
    state = BatchState()
    await _look_up_all(conn, plans, state, settings, tier_of, deduper, model)
    decided = _decide_all(plans, state, settings, deduper)
    inbound = list(dict.fromkeys(d for d in decided if isinstance(d, Inbound)))
    languages = await _write(conn, inbound, state, settings, model, links)
    await queue_confirmations(conn, _new_form_senders(inbound, state, languages), settings)
    results: list[IngestResult] = []
    for d in decided:
        if isinstance(d, IngestResult):
            results.append(d)
        else:
            assert d.target.conversation_id is not None
            results.append(IngestResult(d.outcome, d.target.reference, d.target.conversation_id))
    await note_released(conn, plans, results)
    return results


async def _look_up_all(
    conn: AsyncConnection,
    plans: list[IngestPlan],
    state: BatchState,
    settings: Settings,
    tier_of: Callable[[Envelope], str],
    deduper: Deduper | None,
    model: str,
) -> None:
    """Fills ``state`` with all the decisions need, new senders made contacts."""
    await look_up(conn, plans, state, settings.secret)
    window = settings.dedup_window_minutes * 60
    fresh = [p for p in plans if (p.envelope.channel, p.envelope.external_id) not in state.stored]
    digests = {content_hash(p.envelope.subject, p.envelope.text) for p in fresh}
    since = min((p.envelope.received_at for p in fresh), default=0.0) - window
    await look_up_duplicates(conn, digests, since, state)
    await create_contacts(conn, plans, state, tier_of)
    if deduper is not None:
        with_vectors = [p for p in fresh if p.vector is not None]
        contact_ids = {
            state.contacts[(p.envelope.identity_channel, p.envelope.address)] for p in with_vectors
        }
        stitch_since = since + window - settings.dedup.stitch_days * 86400
        await look_up_similar(conn, contact_ids, min(since, stitch_since), model, state)


def _decide_all(
    plans: list[IngestPlan], state: BatchState, settings: Settings, deduper: Deduper | None
) -> list[Inbound | IngestResult]:
    """Each plan's decision, in order; a message decided earlier in the batch counts as
    evidence for the later ones."""
    decided: list[Inbound | IngestResult] = []
    seen_keys: dict[tuple[str, str], Inbound] = {}
    for index, plan in enumerate(plans):
        env = plan.envelope
        key = (env.channel, env.external_id)
        stored = state.stored.get(key)
        if stored is not None:
            decided.append(IngestResult("already_stored", stored.reference, stored.conversation_id))
            continue
        if key in seen_keys:  # the same message twice in one batch
            decided.append(seen_keys[key])
            continue
        outcome = decide(plan, state, settings, state.thread_refs.get(index, []), deduper)
        decided.append(outcome)
        seen_keys[key] = outcome
        contact = outcome.target.contact_id
        if plan.vector is not None and outcome.outcome != "duplicate":
            state.similar_in_batch.setdefault(contact, []).append(BatchVector(outcome, plan.vector))
        state.in_batch_hash.setdefault((contact, outcome.digest), outcome)
        if env.meta.message_id:
            state.in_batch_copies.setdefault((contact, own_thread_key(env)), outcome)
    return decided


async def _write(
    conn: AsyncConnection,
    inbound: list[Inbound],
    state: BatchState,
    settings: Settings,
    model: str,
    links: CustomerLinks | None,
) -> Mapping[int, str]:
    """Writes the decided messages, their conversations, audit trail and answers;
    returns the customers' languages, by contact."""
    stamp = now()
    clocks = clocks_for(settings)
    log = EventLog(stamp)
    started = await write_conversations(conn, inbound, state, settings, clocks, stamp)
    message_ids = await write_messages(conn, inbound, model, stamp)
    note_arrivals(log, inbound, state, message_ids)
    await update_touched(conn, touched_by(inbound), started, clocks, stamp)
    policy = await batch_allowance(conn, inbound, settings, log)
    languages = await keep_languages(conn, inbound)
    answered: set[Inbound] = set()
    if links is not None:
        tools = BotTools(settings, clocks, links, languages)
        answered = await bot_turn(conn, inbound, tools, log, policy)
    unanswered = [m for m in inbound if m not in answered]
    await acknowledge(conn, unanswered, settings, clocks, log, policy, languages)
    await log.write(conn)
    return languages


def _new_form_senders(
    inbound: list[Inbound], state: BatchState, languages: Mapping[int, str]
) -> list[NewFormSender]:
    """Form senders first seen in this batch, with the ticket their message opened."""
    found: dict[str, NewFormSender] = {}
    for m in inbound:
        env = m.plan.envelope
        key = (env.identity_channel, env.address)
        if env.identity_channel == FORM_IDENTITY and key in state.new_identities:
            assert m.target.conversation_id is not None
            found.setdefault(
                env.address,
                NewFormSender(
                    env.address,
                    m.target.conversation_id,
                    m.target.reference,
                    languages.get(m.target.contact_id, ""),
                ),
            )
    return list(found.values())


def _merged(
    plans: list[IngestPlan], special: dict[int, IngestResult], others: list[IngestResult]
) -> list[IngestResult]:
    """Results in the plans' order: ``special`` ones by plan, the rest from ``others``."""
    rest = iter(others)
    return [special[id(p)] if id(p) in special else next(rest) for p in plans]
