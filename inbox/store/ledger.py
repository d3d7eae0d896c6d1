"""The answer ledger: for every customer contact, what answered it and whether that
answer reached them.

Nothing is written for it: the ledger is read from what the store already holds, so it
cannot drift from the truth. A customer's message is answered by an outbound message of
its conversation queued at or after it (an acknowledgement, the bot's answer, a
handoff notice, an agent's answer), the best of them counting: one that was delivered
before one still pending, before one that failed. A follow-up that needs no answer of its
own (a chat line, an email in its thread) is covered by its ticket's earlier answer. A
bot command is answered by the service answer queued for its sender with it; a
quarantined message by its review; machine-made mail needs no answer.

A contact is **unanswered** when nothing was delivered ``unanswered_after`` seconds after
it came: its answer failed, is still pending, or never existed; or it waits in quarantine
for a review. An answer held back by a rule (too many automatic answers to one address)
is shown with the rule and is not counted: the SLA clocks watch the agent's answer.
Dead letters, which live in the queue and not the store, are added by the caller
(``dead_letter_entries``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.bot_words import BOT_ANSWER
from inbox.config.settings import LedgerSettings
from inbox.form_identity import shown_address
from inbox.models import DeadLetter
from inbox.store.dead_letter_reviews import dead_letter_notes
from inbox.store.engine import reading
from inbox.store.tables import bot_commands, conversations, events, messages, outbox, quarantine

# The outbound kinds that answer a customer, and what each says about the contact.
ANSWER_KINDS = ("acknowledgement", "handoff", BOT_ANSWER, "reply")
SUPPRESSED_EVENT = "acknowledgement_suppressed"
DEAD_LETTERS_READ = 10_000  # the queue's dead letters read into one ledger, newest first


class AnswerState(StrEnum):
    """What a contact's answer is."""

    BOT = "answered by the bot"
    AGENT = "answered by an agent"
    ACKNOWLEDGED = "acknowledged, waiting for an agent"
    JOINED = "joined a ticket"
    COMMAND = "command answered"
    QUARANTINED = "quarantined"
    AUTOMATED = "automated mail (no answer by design)"
    DEAD_LETTER = "dead-lettered"
    NONE = "no answer"


class Delivery(StrEnum):
    """Whether that answer reached the customer."""

    SENT = "sent"
    PENDING = "pending"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    NONE = "none"  # no answer to deliver
    NOT_NEEDED = "not needed"


@dataclass(frozen=True)
class LedgerEntry:
    """One customer contact and its answer."""

    source: str  # "message", "command", "quarantine" or "dead letter"
    source_id: str
    channel: str
    address: str
    received_at: float
    state: AnswerState
    delivery: Delivery
    reference: int | None = None  # the ticket, when there is one
    detail: str = ""  # why: the delivery's error, the rule, the quarantine's reason
    outbox_id: int | None = None
    unanswered: bool = False
    team: str = ""  # the ticket's team; "" for what no team owns yet (quarantine, ...)

    @property
    def summary(self) -> str:
        """The answer and its delivery, as a supervisor reads them."""
        if self.delivery is Delivery.NONE:
            waiting = {
                AnswerState.QUARANTINED: "quarantined: waiting for a review",
                AnswerState.DEAD_LETTER: "dead-lettered: never processed",
            }
            return waiting.get(self.state, "no answer at all")
        return f"{self.state.value}; delivery {self.delivery.value}"

    @property
    def shown_address(self) -> str:
        """The address as a person reads it (a form sender's, as they typed it)."""
        return shown_address(self.channel, self.address)


class _Answer(NamedTuple):
    """An answer queued in a conversation, read once into what choosing the best one
    compares (a tuple: a ledger reads hundreds of thousands of them)."""

    outbox_id: int
    created_at: float
    delivery: Delivery
    answer_state: AnswerState
    error: str
    rank: tuple[int, int, float]  # see _best


def _answer(
    outbox_id: int, kind: str, state: str, created_at: float, error: str, author: str
) -> _Answer:
    if kind == BOT_ANSWER or (kind == "reply" and author == "bot"):
        answer_state = AnswerState.BOT
    else:
        answer_state = AnswerState.AGENT if kind == "reply" else AnswerState.ACKNOWLEDGED
    delivery = delivery_of(state)
    rank = (_DELIVERY_ORDER[delivery], _STATE_ORDER[answer_state], -created_at)
    return _Answer(outbox_id, created_at, delivery, answer_state, error, rank)


def delivery_of(outbox_state: str) -> Delivery:
    """An outbox row's state as a delivery: sent, failed, or still on its way."""
    if outbox_state == "sent":
        return Delivery.SENT
    return Delivery.FAILED if outbox_state == "failed" else Delivery.PENDING


_DELIVERY_ORDER = {Delivery.SENT: 0, Delivery.PENDING: 1, Delivery.FAILED: 2}
_STATE_ORDER = {AnswerState.AGENT: 0, AnswerState.BOT: 1, AnswerState.ACKNOWLEDGED: 2}


async def read_ledger(
    conn: AsyncConnection, since: float, stamp: float, unanswered_after: float
) -> list[LedgerEntry]:
    """Every customer contact received since ``since``, oldest first, each with its
    answer; ``unanswered`` marks those with nothing delivered by ``stamp``."""
    found = [
        *await _message_entries(conn, since),
        *await _command_entries(conn, since),
        *await _quarantine_entries(conn, since),
    ]
    marked = [mark_unanswered(e, stamp, unanswered_after) for e in found]
    return sorted(marked, key=lambda e: (e.received_at, e.source, e.source_id))


def mark_unanswered(entry: LedgerEntry, stamp: float, unanswered_after: float) -> LedgerEntry:
    """The entry, marked unanswered if it is owed an answer nobody has received yet."""
    owed = entry.delivery in (Delivery.PENDING, Delivery.FAILED, Delivery.NONE)
    if entry.state is AnswerState.DEAD_LETTER:
        late = True  # given up on: waiting longer changes nothing (until it is requeued)
    else:
        late = stamp - entry.received_at >= unanswered_after
    unanswered = owed and late
    # Most entries are answered and stay as they are: no copy of each (copies of the
    # entries were a quarter of the ledger's CPU time at 100,000 conversations).
    return entry if entry.unanswered == unanswered else replace(entry, unanswered=unanswered)


def dead_letter_entries(
    dead: Sequence[DeadLetter], reviews: Mapping[str, str] | None = None
) -> list[LedgerEntry]:
    """The queue's dead letters as ledger entries: each is a contact nobody answered,
    unless an operator dismissed it (``reviews``: item id -> what they found)."""
    entries = []
    for letter in dead:
        fields = _payload_fields(letter.payload)
        review = (reviews or {}).get(letter.item_id)
        entries.append(
            LedgerEntry(
                "dead letter",
                letter.item_id,
                str(fields.get("channel", "")),
                str(fields.get("address", "")),
                float(fields.get("received_at", 0.0) or 0.0),
                AnswerState.DEAD_LETTER,
                Delivery.NOT_NEEDED if review else Delivery.NONE,
                detail=review or f"after {letter.attempts} tries: {letter.reason}",
            )
        )
    return entries


def _payload_fields(payload: str) -> dict[str, Any]:
    """What a dead letter's JSON says, as far as it can be read (it may be why it died)."""
    try:
        fields = json.loads(payload)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


async def _message_entries(conn: AsyncConnection, since: float) -> list[LedgerEntry]:
    m, c = messages, conversations
    rows = (
        await conn.execute(
            select(
                m.c.id,
                m.c.conversation_id,
                m.c.channel,
                m.c.created_at,
                m.c.duplicate_of,
                # Only the one key read here: decoding every message's meta cost more
                # than the query.
                m.c.meta["automated"].as_string().label("automated"),
                c.c.reference,
                c.c.address,
                c.c.team,
            )
            .join(c, c.c.id == m.c.conversation_id)
            .where(m.c.direction == "in", m.c.author == "customer", m.c.created_at >= since)
        )
    ).all()
    answers = await _answers(conn, since)
    suppressed = await _suppressed(conn, since)
    return [_message_entry(r, answers.get(int(r.conversation_id), []), suppressed) for r in rows]


async def _answers(conn: AsyncConnection, since: float) -> dict[int, list[_Answer]]:
    """The answers queued in the conversations that had a customer's message since
    ``since`` (any time: a follow-up is covered by its ticket's earlier answer).

    An answer belongs to the conversation its message is in now: a merge moves the
    messages, answers included, and leaves the outbox row where it was queued."""
    recent = (
        select(messages.c.conversation_id)
        .where(messages.c.direction == "in", messages.c.created_at >= since)
        .distinct()
    )
    now_in = func.coalesce(messages.c.conversation_id, outbox.c.conversation_id)
    rows = (
        await conn.execute(
            select(
                outbox.c.id,
                now_in.label("conversation_id"),
                outbox.c.kind,
                outbox.c.state,
                outbox.c.created_at,
                outbox.c.last_error,
                messages.c.author,
            )
            .outerjoin(messages, messages.c.id == outbox.c.message_id)
            .where(
                outbox.c.kind.in_(ANSWER_KINDS),
                or_(outbox.c.conversation_id.in_(recent), messages.c.conversation_id.in_(recent)),
            )
        )
    ).all()
    found: dict[int, list[_Answer]] = defaultdict(list)
    for r in rows:
        found[int(r.conversation_id)].append(
            _answer(
                int(r.id),
                r.kind,
                r.state,
                float(r.created_at),
                r.last_error or "",
                r.author or "bot",
            )
        )
    return found


async def _suppressed(conn: AsyncConnection, since: float) -> dict[int, str]:
    """Conversations whose acknowledgement a rule held back, with the rule."""
    rows = (
        await conn.execute(
            select(events.c.conversation_id, events.c.data).where(
                events.c.kind == SUPPRESSED_EVENT, events.c.created_at >= since
            )
        )
    ).all()
    return {int(r.conversation_id): str((r.data or {}).get("reason", "")) for r in rows}


def _message_entry(row: Any, answers: list[_Answer], suppressed: dict[int, str]) -> LedgerEntry:
    state, delivery, detail, outbox_id = AnswerState.NONE, Delivery.NONE, "", None
    if row.automated:
        state, delivery, detail = AnswerState.AUTOMATED, Delivery.NOT_NEEDED, str(row.automated)
    else:
        after = [a for a in answers if a.created_at >= row.created_at]
        best = _best(after) or _best(answers)  # a follow-up: its ticket's earlier answer
        if best is None:
            rule = suppressed.get(int(row.conversation_id))
            if rule is not None:
                delivery, detail = Delivery.SUPPRESSED, rule
        else:
            state = best.answer_state if after else AnswerState.ACKNOWLEDGED
            if row.duplicate_of is not None:
                state = AnswerState.JOINED
            delivery, outbox_id = best.delivery, best.outbox_id
            detail = best.error if best.delivery is not Delivery.SENT else ""
    # Built once, not copied with each finding (see mark_unanswered).
    return LedgerEntry(
        "message",
        str(row.id),
        row.channel,
        row.address,
        float(row.created_at),
        state,
        delivery,
        int(row.reference),
        detail,
        outbox_id,
        team=row.team,
    )


def _best(answers: Iterable[_Answer]) -> _Answer | None:
    """The answer that counts: delivered before pending before failed; among equals, an
    agent's before the bot's before an acknowledgement, then the latest (``rank``; the
    first of equals)."""
    return min(answers, key=_by_rank, default=None)


def _by_rank(answer: _Answer) -> tuple[int, int, float]:
    return answer.rank


async def _command_entries(conn: AsyncConnection, since: float) -> list[LedgerEntry]:
    """Bot commands, each answered by the service answer queued for its sender with it
    (in the same transaction: within a second of the command)."""
    commands = (
        await conn.execute(
            select(bot_commands)
            .where(bot_commands.c.created_at >= since)
            .order_by(bot_commands.c.created_at)
        )
    ).all()
    if not commands:
        return []
    o = outbox.c
    replies = (
        await conn.execute(
            select(o.id, o.channel, o.address, o.state, o.created_at, o.last_error)
            .where(and_(o.kind == "service", o.created_at >= since - 1.0))
            .order_by(o.created_at)
        )
    ).all()
    waiting: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in replies:
        waiting[(r.channel, r.address)].append(r)
    entries = []
    for cmd in commands:
        line = waiting[(cmd.channel, cmd.address)]
        reply = next((r for r in line if r.created_at >= cmd.created_at - 1.0), None)
        if reply is not None:
            line.remove(reply)
        entries.append(_command_entry(cmd, reply))
    return entries


def _command_entry(cmd: Any, reply: Any | None) -> LedgerEntry:
    entry = LedgerEntry(
        "command",
        str(cmd.id),
        cmd.channel,
        cmd.address,
        float(cmd.created_at),
        AnswerState.COMMAND,
        Delivery.NONE,
        detail=cmd.command,
    )
    if reply is None:
        return entry
    delivery = delivery_of(reply.state)
    detail = cmd.command
    if delivery is not Delivery.SENT and reply.last_error:
        detail = f"{cmd.command}: {reply.last_error}"
    return replace(entry, delivery=delivery, outbox_id=int(reply.id), detail=detail)


async def _quarantine_entries(conn: AsyncConnection, since: float) -> list[LedgerEntry]:
    """Quarantined messages: owed a review until someone released, confirmed or
    dismissed them (a released one is tracked again as the ticket it became)."""
    q = quarantine
    rows = (await conn.execute(select(q).where(q.c.received_at >= since))).all()
    entries = []
    for r in rows:
        reviewed = r.review is not None
        detail = r.reason if not reviewed else f"{r.review} by {r.reviewed_by}: {r.reason}"
        entries.append(
            LedgerEntry(
                "quarantine",
                str(r.id),
                r.channel,
                r.sender,
                float(r.received_at),
                AnswerState.QUARANTINED,
                Delivery.NOT_NEEDED if reviewed else Delivery.NONE,
                r.released_reference,
                detail,
            )
        )
    return entries


@dataclass(frozen=True)
class LedgerReport:
    """The ledger of a period: every contact, and the counts a supervisor reads first."""

    since: float
    stamp: float
    entries: tuple[LedgerEntry, ...]

    def __repr__(self) -> str:
        # Short: Python 3.11's asyncio.run, on its way out, formats the repr of the task
        # that returned the report, result included (signal.getsignal tries the SIGINT
        # handler, which holds the task, as an enum value): every entry's repr, seconds
        # at 100,000 conversations, thrown away.
        return f"LedgerReport(since={self.since}, stamp={self.stamp}, {len(self.entries)} entries)"

    @property
    def unanswered(self) -> list[LedgerEntry]:
        return [e for e in self.entries if e.unanswered]

    def counts(self) -> list[tuple[str, AnswerState, Delivery, int]]:
        """How many contacts per channel, answer state and delivery, in that order."""
        tally: dict[tuple[str, AnswerState, Delivery], int] = defaultdict(int)
        for e in self.entries:
            tally[(e.channel, e.state, e.delivery)] += 1
        states, deliveries = list(AnswerState), list(Delivery)
        keys = sorted(tally, key=lambda k: (k[0], states.index(k[1]), deliveries.index(k[2])))
        return [(*k, tally[k]) for k in keys]

    def visible_to(self, teams: Collection[str]) -> LedgerReport:
        """The part of the ledger a supervisor of ``teams`` sees: their teams' tickets, and
        what no team owns yet (quarantined messages, dead letters, bot commands)."""
        kept = tuple(e for e in self.entries if not e.team or e.team in teams)
        return replace(self, entries=kept)

    def unanswered_by_channel(self) -> dict[str, int]:
        tally: dict[str, int] = defaultdict(int)
        for e in self.unanswered:
            tally[e.channel] += 1
        return dict(tally)


async def ledger_report(
    engine: AsyncEngine,
    settings: LedgerSettings,
    dead: Sequence[DeadLetter],
    stamp: float,
    days: float | None = None,
) -> LedgerReport:
    """The ledger of the last ``days`` (the configured look-back unless given), the
    queue's dead letters included."""
    since = stamp - (settings.days if days is None else days) * 86400
    after = settings.unanswered_after_minutes * 60
    async with reading(engine) as conn:
        stored = await read_ledger(conn, since, stamp, after)
        reviews = await dead_letter_notes(conn, [d.item_id for d in dead])
    letters = [mark_unanswered(e, stamp, after) for e in dead_letter_entries(dead, reviews)]
    return LedgerReport(since, stamp, tuple(stored + letters))
