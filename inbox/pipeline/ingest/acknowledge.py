"""The instant answer to a new ticket (and to a form follow-up): queued in the outbox in
the ingest transaction, so a message is stored with its answer queued, or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BOT_ANSWER
from inbox.config.settings import Settings, TeamSettings
from inbox.pipeline.ingest.audit import EventLog
from inbox.pipeline.ingest.plan import SESSION_CHANNELS
from inbox.pipeline.ingest.policy import related
from inbox.pipeline.ingest.state import Inbound
from inbox.sla.policy import Target
from inbox.store.bulk import pairs_in
from inbox.store.contact_policy import FIRST_ANSWER_SUPPRESSED, Allowance
from inbox.store.outbound import OutboundDraft, queue_drafts
from inbox.store.sla_clocks import SlaClocks
from inbox.store.tables import outbox
from inbox.text import format_reference
from inbox.texts import Catalogue, Key

ACK_WINDOW = 3600.0  # automatic answers to one email address are limited per hour
AUTOMATIC = ("acknowledgement", BOT_ANSWER)  # the answers nobody wrote for this customer


def acknowledgement_text(
    texts: Catalogue,
    language: str,
    reference: int,
    team: TeamSettings,
    is_fallback: bool,
    within: float | None,
    business: bool,
) -> str:
    """The instant answer a customer gets for a new ticket, in ``language``; ``within`` is
    the first-response target in seconds (of business time when ``business``)."""
    return texts.text(
        language,
        Key.ACKNOWLEDGEMENT,
        reference=format_reference(reference),
        who=who_answers(texts, language, team, is_fallback),
        when=promise(texts, language, within, business),
    )


def who_answers(texts: Catalogue, language: str, team: TeamSettings, is_fallback: bool) -> str:
    """The team named as the customer reads it."""
    if is_fallback:
        return texts.text(language, Key.TEAM_FALLBACK)
    return texts.text(language, Key.TEAM_NAMED, team=team.display_name)


def promise(texts: Catalogue, language: str, within: float | None, business: bool) -> str:
    """When the team answers, as a promise: ``within`` seconds (business time when
    ``business``), or none."""
    if within is None:
        return texts.text(language, Key.ANSWERS_SOON)
    hours = within / 3600
    if hours < 1:
        key, count = (
            (Key.SPAN_BUSINESS_MINUTES if business else Key.SPAN_MINUTES),
            round(hours * 60),
        )
        span = texts.text(language, key, count=count)
    elif hours == 1:
        span = texts.text(language, Key.SPAN_BUSINESS_HOUR if business else Key.SPAN_HOUR)
    else:
        key = Key.SPAN_BUSINESS_HOURS if business else Key.SPAN_HOURS
        span = texts.text(language, key, count=f"{hours:g}")
    return texts.text(language, Key.ANSWERS_WITHIN, span=span)


def follow_up_text(texts: Catalogue, language: str, reference: int) -> str:
    """The answer to a message that joined an existing ticket."""
    return texts.text(language, Key.FOLLOW_UP, reference=format_reference(reference))


def to_acknowledge(inbound: list[Inbound], settings: Settings) -> list[Inbound]:
    """The messages that get an acknowledgement.

    A new ticket is acknowledged; so is a follow-up that joined a ticket by its reference
    on the web form, which tells the customer which ticket it joined. Chat follow-ups are
    the conversation itself; duplicates get none. Machine-made mail is never answered:
    that is how loops with auto-responders start. A follow-up by email is already in the
    thread: no acknowledgement for it either.
    """
    quiet_follow_ups = SESSION_CHANNELS | settings.email_channels
    return [
        m
        for m in inbound
        if not m.plan.envelope.automated
        and (
            m.outcome == "new"
            or (m.outcome == "joined" and m.plan.envelope.channel not in quiet_follow_ups)
        )
    ]


async def acknowledge(
    conn: AsyncConnection,
    inbound: list[Inbound],
    settings: Settings,
    clocks: SlaClocks,
    log: EventLog,
    policy: Allowance,
    languages: Mapping[int, str],
) -> None:
    """Queues the batch's acknowledgements, each in its customer's language (``languages``,
    by contact), as many as each address's limit and the contact policy allow; each one
    held back is an event with its rule."""
    acks, suppressed = await _limit(conn, to_acknowledge(inbound, settings), settings, log.stamp)
    for m in suppressed:
        log.add(
            m.target,
            FIRST_ANSWER_SUPPRESSED,
            "worker",
            {"reason": "too many acknowledgements to this address in the last hour"},
        )
    allowed: list[Inbound] = []
    for m in acks:
        channel = m.plan.envelope.channel
        held = policy.hold(m.target.contact_id, channel, related(m))
        if held:
            log.add(m.target, FIRST_ANSWER_SUPPRESSED, "worker", {"reason": held})
        else:
            policy.take(m.target.contact_id, channel)
            allowed.append(m)
    acks = allowed
    if not acks:
        return
    drafts = [
        OutboundDraft(
            m.plan.envelope.channel,
            m.plan.envelope.address,
            _text(m, settings, clocks, languages.get(m.target.contact_id, "")),
            "acknowledgement",
            m.target.conversation_id,
            subject=m.plan.envelope.subject,
        )
        for m in acks
    ]
    message_ids = await queue_drafts(conn, drafts, log.stamp)
    for m, message_id in zip(acks, message_ids, strict=True):
        log.add(m.target, "acknowledged", "worker", {"message_id": message_id})


def _text(m: Inbound, settings: Settings, clocks: SlaClocks, language: str) -> str:
    if m.outcome != "new":
        return follow_up_text(settings.texts, language, m.target.reference)
    routing = m.plan.routing
    team = settings.team(routing.team if routing else settings.routing.fallback_team)
    return acknowledgement_text(
        settings.texts,
        language,
        m.target.reference,
        team,
        team.name == settings.routing.fallback_team,
        clocks.allowed(team.name, m.plan.triage.priority, Target.FIRST_RESPONSE),
        clocks.business_hours_only(team.name),
    )


async def _limit(
    conn: AsyncConnection, acks: list[Inbound], settings: Settings, stamp: float
) -> tuple[list[Inbound], list[Inbound]]:
    """Splits acknowledgements into those to send and those over an email address's limit.

    An auto-responder that slips past the headers still cannot start an endless loop.
    """
    limits = answer_limits(settings)
    limited = [m for m in acks if m.plan.envelope.channel in limits]
    if not limited:
        return acks, []
    pairs = {(m.plan.envelope.channel, m.plan.envelope.address) for m in limited}
    sent = await automatic_answers(conn, pairs, stamp)
    keep: list[Inbound] = []
    dropped: list[Inbound] = []
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


def answer_limits(settings: Settings) -> dict[str, int]:
    """Automatic answers allowed per hour to one address, by mailbox (channel name)."""
    return {box.name: box.acknowledgements_per_hour for box in settings.email}


async def automatic_answers(
    conn: AsyncConnection, pairs: set[tuple[str, str]], stamp: float
) -> dict[tuple[str, str], int]:
    """Automatic answers (acknowledgements and the bot's answers) queued to each
    ``(channel, address)`` within the last hour, this transaction's included."""
    if not pairs:
        return {}
    sent: dict[tuple[str, str], int] = {}
    row: Any
    for row in await conn.execute(
        select(outbox.c.channel, outbox.c.address, func.count())
        .where(
            pairs_in(outbox.c.channel, outbox.c.address, list(pairs)),
            outbox.c.kind.in_(AUTOMATIC),
            outbox.c.created_at >= stamp - ACK_WINDOW,
        )
        .group_by(outbox.c.channel, outbox.c.address)
    ):
        sent[(row[0], row[1])] = int(row[2])
    return sent
