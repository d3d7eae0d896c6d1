"""The knowledge base's gaps: what customers asked that no article answered, in groups of
the same question, the biggest first — what a supervisor turns into new articles.

A gap is a conversation opened in the period, in the supervisor's teams, that the bot
did not answer for want of a sure article (it abstained on confidence, not on triage,
language or an email thread), or answered and then handed off because the answer did not
help or no other article fitted the customer's reply. Its question is the conversation's
first message, grouped by the embedding stored for it (``message_vectors``, opened rows;
vectors of another model than the newest are left out, being incomparable). Only the
latest ``GAP_CAP`` gaps are read, so the page costs the same however busy the period.

The grouping threshold was measured with the real model on 500 Bitext test questions of
27 intents, the intent as truth. At cosine 0.60: 103 groups, 81 % of questions in a group
of their own intent's majority (payment problems mixed with payment methods, closing an
account with cancelling an order); at 0.65: 142 groups, 86 %, related intents that one
article would answer (changing and setting up a delivery address) still together; at
0.70: 178 groups, 92 %, a topic spread over more rows. 0.65 it is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers.answers import UNSURE_REASONS
from classifiers.dedup import vector_of
from classifiers.embedder import Vectors
from classifiers.groups import group_similar
from inbox.bot_words import ABSTAINED, HandoffReason
from inbox.store.bot_rows import ANSWERED, HANDED_OFF
from inbox.store.tables import (
    conversations,
    events,
    kb_article_versions,
    kb_articles,
    message_vectors,
    messages,
)
from inbox.text import single_line

GAP_CAP = 500  # the latest gaps read in a period
SIMILAR = 0.65  # cosine at or above which two questions are grouped (measured, above)
TEXT_CHARS = 280  # of the representative question shown
# What the bot's pipeline writes (inbox.pipeline.bot.step): a new conversation it did not
# answer, with the reason; and the handoffs that say its articles fell short.
SHORT_HANDOFFS = (HandoffReason.UNHELPFUL.value, HandoffReason.NO_ARTICLE.value)


@dataclass(frozen=True)
class GapConversation:
    """One conversation of a gap: where to read it."""

    reference: int
    team: str
    handed_off: bool  # the bot answered, and it did not help; else it never answered


@dataclass(frozen=True)
class GapGroup:
    """Questions that say the same thing, with the article that came closest."""

    text: str  # the most central question, as the customer wrote it (one line, cut)
    conversations: list[GapConversation]  # newest first
    article_id: str | None  # the article most of them nearly matched (or were answered with)
    article_title: str | None
    confidence: float | None  # the highest any unanswered one had in it (None: none)
    answered_with: bool  # the bot answered some of them with that article, and it did not help

    @property
    def size(self) -> int:
        """How many conversations asked it."""
        return len(self.conversations)


async def kb_gaps(conn: AsyncConnection, teams: list[str], since: float) -> list[GapGroup]:
    """The gaps of ``teams`` in conversations opened at or after ``since``, grouped."""
    found = await _gap_events(conn, teams, since)
    if not found:
        return []
    await _answered_articles(conn, found)
    gaps = await _questions(conn, found)
    if not gaps:
        return []
    titles = await _titles(conn, {g.found.article_id for g in gaps if g.found.article_id})
    groups = group_similar(np.vstack([g.vector for g in gaps]), SIMILAR)
    # Only a group's leader is shown: only leaders' texts are read.
    texts = await _texts(conn, [gaps[members[0]].message_id for members in groups])
    return [
        _group(texts[gaps[members[0]].message_id], [gaps[i] for i in sorted(members)], titles)
        for members in groups
    ]


@dataclass
class _Found:
    """A gap conversation and the article it came closest to."""

    conversation: GapConversation
    article_id: str | None
    confidence: float | None


@dataclass(frozen=True)
class _Gap:
    """A gap with its question, ready to group."""

    found: _Found
    message_id: int  # the conversation's first message: its question
    vector: Vectors  # that message's embedding


async def _gap_events(conn: AsyncConnection, teams: list[str], since: float) -> dict[int, _Found]:
    """The latest ``GAP_CAP`` gap conversations, by id, newest first."""
    c, e = conversations, events
    reason = e.c.data["reason"].as_string()
    rows = await conn.execute(
        select(e.c.conversation_id, e.c.kind, e.c.data, c.c.reference, c.c.team)
        .join(c, c.c.id == e.c.conversation_id)
        .where(
            c.c.team.in_(teams),
            c.c.created_at >= since,
            or_(
                and_(e.c.kind == ABSTAINED, or_(*(reason.like(f"{p}%") for p in UNSURE_REASONS))),
                and_(e.c.kind == HANDED_OFF, reason.in_(SHORT_HANDOFFS)),
            ),
        )
        .order_by(e.c.id.desc())
        .limit(GAP_CAP)
    )
    found: dict[int, _Found] = {}
    for r in rows:
        handed_off = r.kind == HANDED_OFF
        data = r.data or {}
        confidence = data.get("confidence")
        found.setdefault(
            int(r.conversation_id),
            _Found(
                GapConversation(int(r.reference), r.team, handed_off),
                None if handed_off else data.get("best_article"),
                None if handed_off or confidence is None else float(confidence),
            ),
        )
    return found


async def _answered_articles(conn: AsyncConnection, found: dict[int, _Found]) -> None:
    """For gaps the bot answered: the article of its last answer (its confidence is left
    out: it was sure, and wrong)."""
    handed = [i for i, f in found.items() if f.conversation.handed_off]
    if not handed:
        return
    rows = await conn.execute(
        select(events.c.conversation_id, events.c.data)
        .where(events.c.conversation_id.in_(handed), events.c.kind == ANSWERED)
        .order_by(events.c.id)
    )
    for conversation_id, data in rows:  # in order: the last answer stays
        found[int(conversation_id)].article_id = data.get("article")


async def _questions(conn: AsyncConnection, found: dict[int, _Found]) -> list[_Gap]:
    """Each gap's first message's embedding, in the order of ``found``; gaps whose message
    has no embedding, or one of an older model, are left out."""
    m, v = messages, message_vectors
    rows = await conn.execute(
        select(m.c.conversation_id, v.c.vector, v.c.model, v.c.message_id)
        .join(v, v.c.message_id == m.c.id)
        .where(m.c.conversation_id.in_(list(found)), v.c.opened.is_(True))
    )
    first: dict[int, Any] = {}
    for r in rows:  # a merged conversation may hold two openers: the earliest is its question
        if (
            int(r.conversation_id) not in first
            or r.message_id < first[r.conversation_id].message_id
        ):
            first[int(r.conversation_id)] = r
    if not first:
        return []
    model = first[max(first)].model  # the newest conversation's model
    return [
        _Gap(f, int(first[i].message_id), vector_of(first[i].vector))
        for i, f in found.items()
        if i in first and first[i].model == model
    ]


async def _texts(conn: AsyncConnection, ids: list[int]) -> dict[int, str]:
    """The messages ``ids`` as one line each, cut to ``TEXT_CHARS``."""
    rows = await conn.execute(select(messages.c.id, messages.c.text).where(messages.c.id.in_(ids)))
    return {int(r.id): _shortened(r.text) for r in rows}


def _shortened(text: str) -> str:
    line = single_line(text)
    return line if len(line) <= TEXT_CHARS else line[: TEXT_CHARS - 1].rstrip() + "…"


async def _titles(conn: AsyncConnection, ids: set[str]) -> dict[str, str]:
    """The titles in force of the articles ``ids``."""
    if not ids:
        return {}
    a, v = kb_articles, kb_article_versions
    rows = await conn.execute(
        select(a.c.id, v.c.title)
        .join(v, and_(v.c.article_id == a.c.id, v.c.version == a.c.current_version))
        .where(a.c.id.in_(sorted(ids)))
    )
    return {str(r.id): str(r.title) for r in rows}


def _group(text: str, members: list[_Gap], titles: dict[str, str]) -> GapGroup:
    """One group: its leader's ``text``, its conversations (newest first, as ``members``)
    and the article most of them came closest to."""
    found = [g.found for g in members]
    votes = Counter(f.article_id for f in found if f.article_id)
    article = votes.most_common(1)[0][0] if votes else None
    sure = [f.confidence for f in found if f.article_id == article and f.confidence is not None]
    return GapGroup(
        text=text,
        conversations=[f.conversation for f in found],
        article_id=article,
        article_title=titles.get(article) if article else None,
        confidence=round(max(sure), 3) if sure else None,
        answered_with=any(f.conversation.handed_off and f.article_id == article for f in found),
    )
