"""The bot's three moves in a conversation, each inside the caller's transaction: answer
from an article, hand off to a person, resolve. Each leaves its trace in the audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BOT_ANSWER, BotState
from inbox.config.settings import Settings
from inbox.customer_links import CustomerLinks
from inbox.models import Status
from inbox.pipeline.answering import Candidate
from inbox.pipeline.bot.texts import answer_text, handoff_text, resolved_text, verdict_links
from inbox.pipeline.ingest.acknowledge import promise, who_answers
from inbox.pipeline.ingest.plan import SESSION_CHANNELS
from inbox.sla.policy import Target
from inbox.store.bot_rows import ANSWERED, HANDED_OFF, BotConversation, set_bot_state
from inbox.store.engine import now
from inbox.store.form_copies import form_copies_for, queue_email_copies
from inbox.store.outbound import OutboundDraft, queue_drafts
from inbox.store.ratings import ask_for_rating
from inbox.store.sla_clocks import SlaClocks
from inbox.store.tables import conversations, events
from inbox.store.writes import queue_outbound, record_event

ACTOR = "bot"
FORM_CHANNEL = "form"  # the web form: its ticket page shows the choices as buttons


@dataclass(frozen=True)
class BotTools:
    """What the moves need besides the conversation."""

    settings: Settings
    clocks: SlaClocks
    links: CustomerLinks
    # The batch's customers' languages by contact, for the conversations it opens.
    languages: Mapping[int, str] = field(default_factory=dict)


async def answer(
    conn: AsyncConnection, conv: BotConversation, candidate: Candidate, tools: BotTools
) -> int:
    """Answers from ``candidate``'s article and holds the conversation for the verdict;
    returns the answer's message id."""
    (message_id,) = await answer_all(conn, [(conv, candidate)], tools)
    return message_id


async def answer_all(
    conn: AsyncConnection, answers: list[tuple[BotConversation, Candidate]], tools: BotTools
) -> list[int]:
    """``answer`` for many conversations at once: a handful of statements for the whole
    batch, not four per answer (the per-statement cost would rival the model's)."""
    if not answers:
        return []
    stamp = now()
    drafts = [
        OutboundDraft(
            conv.channel,
            conv.address,
            _answer_text(conv, candidate, tools),
            BOT_ANSWER,
            conv.conversation_id,
            subject=conv.subject,
        )
        for conv, candidate in answers
    ]
    message_ids = [int(m) for m in await queue_drafts(conn, drafts, stamp) if m is not None]
    # On a form ticket, also mailed to a confirmed address (a delivery of its own).
    await queue_email_copies(conn, form_copies_for(tools.settings, tools.links), message_ids, ACTOR)
    await conn.execute(
        update(conversations)
        .where(conversations.c.id.in_([conv.conversation_id for conv, _ in answers]))
        .values(bot_state=BotState.HOLDING.value, updated_at=stamp)
    )
    rows = [
        {
            "conversation_id": conv.conversation_id,
            "kind": ANSWERED,
            "actor": ACTOR,
            "data": _evidence(candidate, message_id),
            "created_at": stamp,
        }
        for (conv, candidate), message_id in zip(answers, message_ids, strict=True)
    ]
    await conn.execute(insert(events), rows)
    for conv, candidate in answers:
        assert candidate.article is not None
        conv.articles.append(candidate.article.id)
    return message_ids


def _answer_text(conv: BotConversation, candidate: Candidate, tools: BotTools) -> str:
    stored, decision = candidate.article, candidate.decision
    assert stored is not None
    # Buttons where the channel has them: Telegram, the chat, the form's ticket page.
    with_buttons = conv.channel in SESSION_CHANNELS or conv.channel == FORM_CHANNEL
    texts, language = tools.settings.texts, conv.language
    links = [] if with_buttons else verdict_links(texts, language, tools.links, conv.reference)
    return answer_text(
        texts,
        language,
        conv.reference,
        stored.article.title,
        decision.passage,
        tools.links.article_url(stored.id),
        links,
    )


def _evidence(candidate: Candidate, message_id: int) -> dict[str, Any]:
    """The audit event of an answer: the article and version quoted, and why."""
    stored, d = candidate.article, candidate.decision
    assert stored is not None
    evidence = d.evidence
    return {
        "message_id": message_id,
        "article": stored.id,
        "version": stored.version,
        "title": stored.article.title,
        "passage": d.passage,
        "confidence": round(d.confidence, 4),
        "threshold": d.threshold,
        "evidence": None
        if evidence is None
        else {
            "matched": evidence.matched,
            "matched_kind": evidence.matched_kind,
            "similarity": round(evidence.similarity, 4),
            "lexical": round(evidence.lexical, 4),
            "lexical_terms": list(evidence.lexical_terms),
            "runner_up": evidence.runner_up,
            "lead": round(evidence.lead, 4),
        },
    }


async def hand_off(
    conn: AsyncConnection,
    conv: BotConversation,
    why: str,
    reason: str,
    tools: BotTools,
    *,
    tell: bool = True,
) -> None:
    """Passes the conversation to its team's queue (its SLA clocks have run since the
    customer's first message) and, with ``tell``, tells the customer a person will
    answer and when. ``reason`` is asked | unhelpful | unknown; ``why`` is for agents."""
    await set_bot_state(conn, conv.conversation_id, BotState.HANDED_OFF)
    await record_event(conn, conv.conversation_id, HANDED_OFF, ACTOR, {"reason": why})
    if not tell:
        return
    s = tools.settings
    team = s.team(conv.team)
    within = tools.clocks.allowed(team.name, conv.priority, Target.FIRST_RESPONSE)
    language = conv.language
    text = handoff_text(
        s.texts,
        language,
        conv.reference,
        who_answers(s.texts, language, team, team.name == s.routing.fallback_team),
        promise(s.texts, language, within, tools.clocks.business_hours_only(team.name)),
        reason,
    )
    await queue_outbound(
        conn,
        conversation_id=conv.conversation_id,
        channel=conv.channel,
        address=conv.address,
        text=text,
        author=ACTOR,
        kind="handoff",
        subject=conv.subject,
    )


async def resolve(
    conn: AsyncConnection, conv: BotConversation, why: str, tools: BotTools, stamp: float
) -> None:
    """Resolves a conversation the bot's answer settled; when the customer said so, thanks
    them and asks for a rating, as an agent's resolution does."""
    await conn.execute(
        update(conversations)
        .where(conversations.c.id == conv.conversation_id)
        .values(status=Status.RESOLVED.value, bot_state=BotState.RESOLVED.value, updated_at=stamp)
    )
    await tools.clocks.stop(conn, conv.conversation_id, list(Target), stamp)
    await tools.clocks.refresh(conn, [conv.conversation_id])
    await record_event(conn, conv.conversation_id, "resolved", ACTOR, {"by": ACTOR, "why": why})
    if why != SAID_YES:
        return
    await queue_outbound(
        conn,
        conversation_id=conv.conversation_id,
        channel=conv.channel,
        address=conv.address,
        text=resolved_text(tools.settings.texts, conv.language, conv.reference),
        author=ACTOR,
        kind="reply",
        subject=conv.subject,
    )
    if tools.settings.csat:
        await ask_for_rating(
            conn,
            conv.conversation_id,
            conv.channel,
            conv.address,
            conv.subject,
            tools.links.request_text(conv.reference, tools.settings.texts, conv.language),
            ACTOR,
            tools.settings.contact,
        )


SAID_YES = "the customer said the answer solved it"
