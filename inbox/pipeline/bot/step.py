"""The bot's turn in the ingest: answer a new conversation it is sure of, and read the
customer's reply in a conversation it holds.

The rules, in order:
- The bot answers only the first message of a new conversation, and a follow-up while it
  still holds the conversation (it answered and no person took it since).
- Never: a first message that asks for a person, machine-made or quarantined mail (those
  never get here), a message triaged high or urgent (anger, urgency, a VIP, a
  high-priority phrase: a person looks first),
  a reply inside an email thread, a language no article is written in, an article it
  already answered with in this conversation. It answers at most ``MAX_ANSWERS`` times
  in one conversation; after that, a person.
- A reply that says it helped resolves the conversation; one that asks for a person hands
  it off at once; anything else gets one more answer if a *different* article is sure,
  else a handoff. A handoff tells the customer a person will answer, and when.
The bot's answer replaces the acknowledgement (it keeps the ticket reference), so a
message gets one answer, never two.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import ABSTAINED, HandoffReason, Verdict
from inbox.models import Priority
from inbox.pipeline.answering import Candidate
from inbox.pipeline.bot.moves import (
    ACTOR,
    SAID_YES,
    BotTools,
    answer,
    answer_all,
    hand_off,
    resolve,
)
from inbox.pipeline.ingest.acknowledge import answer_limits, automatic_answers
from inbox.pipeline.ingest.audit import EventLog
from inbox.pipeline.ingest.policy import related
from inbox.pipeline.ingest.state import Inbound
from inbox.store.bot_rows import BotConversation, held
from inbox.store.contact_policy import Allowance, note_suppressed
from inbox.store.engine import now
from inbox.store.writes import record_event

MAX_ANSWERS = 2


async def bot_turn(
    conn: AsyncConnection,
    inbound: list[Inbound],
    tools: BotTools,
    log: EventLog,
    policy: Allowance,
) -> set[Inbound]:
    """Answers what the bot should, as the contact policy allows; returns the messages
    it took care of (they get no acknowledgement)."""
    if not tools.settings.kb.answers:
        return set()
    joined = {
        m.target.conversation_id
        for m in inbound
        if m.outcome == "joined" and m.target.conversation_id is not None
    }
    holding = await held(conn, joined)
    quota = await _quota(conn, inbound, tools)
    ours = [m for m in inbound if not m.plan.envelope.automated and m.target.conversation_id]
    # First messages first, answered together; then the replies, in order.
    answering: list[tuple[BotConversation, Candidate]] = []
    handled: set[Inbound] = set()
    for m in ours:
        if m.outcome == "new" and _first_message(m, tools, log, quota, policy):
            assert m.target.conversation_id is not None and m.plan.answer is not None
            conv = holding[m.target.conversation_id] = _conversation(m, tools)
            answering.append((conv, m.plan.answer))
            handled.add(m)
    await answer_all(conn, answering, tools)
    for m in ours:
        if m.outcome == "joined" and m.target.conversation_id in holding:
            conv = holding[m.target.conversation_id]
            if not await _reply(conn, m, conv, tools, policy):
                del holding[m.target.conversation_id]
            handled.add(m)
    return handled


async def _quota(
    conn: AsyncConnection, inbound: list[Inbound], tools: BotTools
) -> dict[tuple[str, str], int]:
    """Automatic answers each limited email address may still get this hour: a bot answer
    counts as an acknowledgement, so an auto-responder cannot loop with the bot either."""
    limits = answer_limits(tools.settings)
    pairs = {
        (m.plan.envelope.channel, m.plan.envelope.address)
        for m in inbound
        if m.outcome == "new" and m.plan.envelope.channel in limits
    }
    sent = await automatic_answers(conn, pairs, now())
    return {key: limits[key[0]] - sent.get(key, 0) for key in pairs}


def _first_message(
    m: Inbound,
    tools: BotTools,
    log: EventLog,
    quota: dict[tuple[str, str], int],
    policy: Allowance,
) -> bool:
    """Whether the bot answers a new conversation's first message (it may, and is sure);
    when it does not, the reason is logged."""
    key = (m.plan.envelope.channel, m.plan.envelope.address)
    why_not = _why_not(m) or policy.hold(m.target.contact_id, key[0], related(m))
    if not why_not and quota.get(key, 1) <= 0:
        why_not = "too many automatic answers to this address in the last hour"
    if why_not:
        best = m.plan.answer.decision if m.plan.answer else None
        log.add(
            m.target,
            ABSTAINED,
            "bot",
            {
                "reason": why_not,
                "best_article": best.best_article if best else None,
                "confidence": round(best.confidence, 4) if best else None,
            },
        )
        return False
    if key in quota:
        quota[key] -= 1
    policy.take(m.target.contact_id, key[0])
    return True


def _why_not(m: Inbound) -> str:
    """Why the bot must not answer this new conversation ("" when it may)."""
    plan = m.plan
    if plan.triage.priority >= Priority.HIGH:
        return f"triaged {plan.triage.priority.name.lower()}: {'; '.join(plan.triage.reasons)}"
    if plan.verdict is Verdict.HUMAN:  # "I want to talk to a person": not an article
        return "the customer asks for a person"
    if m.split_from is not None or m.stitched is not None:
        return "a message that continues an email conversation"
    if plan.answer is None:
        return "the message could not be read"
    return plan.answer.decision.reason


async def _reply(
    conn: AsyncConnection, m: Inbound, conv: BotConversation, tools: BotTools, policy: Allowance
) -> bool:
    """Reads the customer's reply in a conversation the bot holds; True if it still does.
    Where the contact policy holds the bot's next message, a person takes over unannounced."""
    verdict = m.plan.verdict
    data = {"verdict": verdict.value, "via": "words"}
    await record_event(conn, conv.conversation_id, "bot_verdict", "customer", data)
    if verdict is Verdict.YES:
        await resolve(conn, conv, SAID_YES, tools, now())
        return False
    contact_id = m.target.contact_id
    rule = policy.hold(contact_id, conv.channel)
    if rule:
        await note_suppressed(conn, conv.conversation_id, "handoff", rule, ACTOR)
    else:
        policy.take(
            contact_id, conv.channel
        )  # an answer or a handoff notice: one automatic message
    tell = not rule
    if verdict is Verdict.HUMAN:
        await hand_off(conn, conv, HandoffReason.ASKED, "asked", tools, tell=tell)
        return False
    again = None if rule else _another_answer(m.plan.answer, m, conv)
    if again is not None:
        await answer(conn, conv, again, tools)
        return True
    if verdict is Verdict.NO:
        await hand_off(conn, conv, HandoffReason.UNHELPFUL, "unhelpful", tools, tell=tell)
    else:
        await hand_off(conn, conv, HandoffReason.NO_ARTICLE, "unknown", tools, tell=tell)
    return False


def _another_answer(
    candidate: Candidate | None, m: Inbound, conv: BotConversation
) -> Candidate | None:
    """The reply's own answer, if it is a different article the bot is sure of."""
    if candidate is None or candidate.article is None or len(conv.articles) >= MAX_ANSWERS:
        return None
    if candidate.article.id in conv.articles or m.plan.triage.priority >= Priority.HIGH:
        return None
    return candidate


def _conversation(m: Inbound, tools: BotTools) -> BotConversation:
    """The new conversation ``m`` opened, as the bot sees it."""
    env, target = m.plan.envelope, m.target
    assert target.conversation_id is not None
    routing = m.plan.routing
    return BotConversation(
        target.conversation_id,
        target.reference,
        env.channel,
        env.address,
        env.subject,
        routing.team if routing else tools.settings.routing.fallback_team,
        m.plan.triage.priority,
        [],
        tools.languages.get(target.contact_id, ""),
    )
