"""The answer ledger: every customer contact with its answer and whether it arrived, and
the unanswered ones found — on both back-ends.

The tickets are written by the real ingest transaction and the answers sent by the real
outbox sender and desk; the channel is a stand-in for the third-party service that fails
on purpose (tests/support/scripted_channel.py), the queue the configured real one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import LedgerSettings, Settings
from inbox.errors import Conflict, PermanentError
from inbox.models import DeadLetter, Envelope, MessageMeta
from inbox.pipeline.outbox import OutboxSender
from inbox.queue import open_queue
from inbox.store.accounts import Accounts
from inbox.store.dead_letter_reviews import dismiss_dead_letter
from inbox.store.desk import Desk
from inbox.store.ledger import AnswerState, Delivery, LedgerEntry, LedgerReport, ledger_report
from inbox.store.outbox_rows import OutboxRows
from inbox.store.quarantine_review import confirm_spam
from tests.support.scripted_channel import ScriptedChannel
from tests.support.tickets import ingest_tickets, migrated_engine

pytestmark = pytest.mark.both_backends

LATER = 16 * 60  # past the default unanswered_after_minutes (15)
FIRST = 3000  # the first ticket's reference


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(settings)
    yield engine
    await engine.dispose()


def _mail(address: str, text: str = "Hello", **fields: object) -> Envelope:
    env = Envelope("scripted", f"m-{address}-{text}", "scripted", address, text, time.time())
    return replace(env, **fields)  # type: ignore[arg-type]


async def _ingest(engine: AsyncEngine, settings: Settings, *envelopes: Envelope) -> None:
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, envelopes, first_reference=FIRST)


def _sender(engine: AsyncEngine, settings: Settings, channel: ScriptedChannel) -> OutboxSender:
    fast = replace(settings.outbox, retry_backoff=0.01, retry_backoff_max=0.02)
    return OutboxSender(OutboxRows(engine), {"scripted": channel}, fast, asyncio.Event())


async def _ledger(
    engine: AsyncEngine, later: float = 0.0, dead: Sequence[DeadLetter] = ()
) -> LedgerReport:
    return await ledger_report(engine, LedgerSettings(), dead, time.time() + later)


def _entries(report: LedgerReport, source: str = "message") -> list[LedgerEntry]:
    return [e for e in report.entries if e.source == source]


async def _agent_answers(engine: AsyncEngine, settings: Settings, reference: int) -> None:
    team = settings.routing.fallback_team  # tickets here are not routed
    agent, _token = await Accounts(engine).add_agent("ed", [team])
    desk = Desk(engine, {t.name for t in settings.all_teams}, team)
    await desk.reply(agent, reference, "Here is what happened, and what we did about it.")


async def test_a_failed_acknowledgement_is_unanswered_until_an_agents_answer_arrives(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _ingest(engine, settings, _mail("ann"))
    channel = ScriptedChannel(failures={"ann": [PermanentError("550 5.1.1 mailbox unknown")]})
    await _sender(engine, settings, channel).send_due()

    (now,) = _entries(await _ledger(engine))
    assert (now.state, now.delivery) == (AnswerState.ACKNOWLEDGED, Delivery.FAILED)
    assert now.detail == "550 5.1.1 mailbox unknown" and now.reference == FIRST
    assert not now.unanswered  # not yet: an answer may still be on its way
    report = await _ledger(engine, LATER)
    assert [e.reference for e in report.unanswered] == [FIRST]
    assert report.unanswered_by_channel() == {"scripted": 1}

    await _agent_answers(engine, settings, FIRST)
    await _sender(engine, settings, channel).send_due()  # the channel takes it this time
    (after,) = _entries(await _ledger(engine, LATER))
    assert (after.state, after.delivery, after.unanswered) == (
        AnswerState.AGENT,
        Delivery.SENT,
        False,
    )


async def test_an_answer_counts_in_the_ticket_its_ticket_was_merged_into(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _ingest(engine, settings, _mail("fay", "My parcel is late"))
    channel = ScriptedChannel(failures={"fay": [PermanentError("550 5.1.1 mailbox unknown")]})
    await _sender(engine, settings, channel).send_due()  # the first acknowledgement fails
    async with engine.begin() as conn:
        later = _mail("fay", "And the invoice is wrong")
        await ingest_tickets(conn, settings, [later], first_reference=FIRST + 1)
    await _sender(engine, settings, channel).send_due()  # the second one arrives
    team = settings.routing.fallback_team
    agent, _token = await Accounts(engine).add_agent("ed", [team])
    desk = Desk(engine, {t.name for t in settings.all_teams}, team)
    await desk.merge(agent, FIRST + 1, FIRST)

    # The second ticket's messages, its delivered acknowledgement among them, are in the
    # first now (the outbox row stays where it was queued): it answers both mails.
    report = await _ledger(engine, LATER)
    assert [(e.reference, e.state, e.delivery) for e in _entries(report)] == [
        (FIRST, AnswerState.ACKNOWLEDGED, Delivery.SENT)
    ] * 2
    assert report.unanswered == []


async def test_an_answer_still_pending_past_the_age_is_unanswered_then_answered_once_sent(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _ingest(engine, settings, _mail("bob"))  # the channel is down: nothing sent
    (waiting,) = _entries(await _ledger(engine, LATER))
    assert (waiting.delivery, waiting.unanswered) == (Delivery.PENDING, True)
    await _sender(engine, settings, ScriptedChannel()).send_due()
    (sent,) = _entries(await _ledger(engine, LATER))
    assert (sent.state, sent.delivery, sent.unanswered) == (
        AnswerState.ACKNOWLEDGED,
        Delivery.SENT,
        False,
    )


async def test_machine_mail_needs_no_answer_and_a_duplicate_is_answered_by_its_ticket(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _ingest(engine, settings, _mail("robot", "Out of office", automated="auto-reply"))
    await _ingest(engine, settings, _mail("cat", "My parcel is late"))
    again = _mail("cat", "My parcel is late")
    await _ingest(engine, settings, replace(again, external_id="m-cat-again"))
    await _sender(engine, settings, ScriptedChannel()).send_due()

    report = await _ledger(engine, LATER)
    by_state = {(e.address, e.state): e for e in _entries(report)}
    robot = by_state[("robot", AnswerState.AUTOMATED)]
    assert (robot.delivery, robot.unanswered, robot.detail) == (
        Delivery.NOT_NEEDED,
        False,
        "auto-reply",
    )
    joined = by_state[("cat", AnswerState.JOINED)]
    assert (joined.delivery, joined.unanswered) == (Delivery.SENT, False)
    assert joined.reference == by_state[("cat", AnswerState.ACKNOWLEDGED)].reference
    assert report.unanswered == []


async def test_a_quarantined_message_is_owed_a_review(
    engine: AsyncEngine, settings: Settings
) -> None:
    spam = _mail("spammer", "Cheap pills", quarantine="spam: link farm")
    await _ingest(engine, settings, spam)
    (kept,) = _entries(await _ledger(engine, LATER), "quarantine")
    assert (kept.state, kept.delivery, kept.unanswered) == (
        AnswerState.QUARANTINED,
        Delivery.NONE,
        True,
    )
    assert "link farm" in kept.detail
    await confirm_spam(engine, int(kept.source_id), "sue")
    (reviewed,) = _entries(await _ledger(engine, LATER), "quarantine")
    assert (reviewed.delivery, reviewed.unanswered) == (Delivery.NOT_NEEDED, False)
    assert reviewed.detail.startswith("spam by sue")


async def test_a_command_is_answered_by_its_service_answer(
    engine: AsyncEngine, settings: Settings
) -> None:
    command = _mail("dan", "/status", meta=MessageMeta(command="status"))
    await _ingest(engine, settings, command)
    (asked,) = _entries(await _ledger(engine, LATER), "command")
    assert (asked.state, asked.delivery, asked.unanswered) == (
        AnswerState.COMMAND,
        Delivery.PENDING,
        True,
    )
    await _sender(engine, settings, ScriptedChannel()).send_due()
    (answered,) = _entries(await _ledger(engine, LATER), "command")
    assert (answered.delivery, answered.unanswered) == (Delivery.SENT, False)


async def test_a_dead_letter_is_unanswered_at_once_until_dismissed(
    engine: AsyncEngine, settings: Settings
) -> None:
    queue = await open_queue(replace(settings.queue, max_attempts=1, retry_backoff=0.01))
    try:
        await queue.put([_mail("eve", "Where is my refund?")])
        (item,) = await queue.claim("test", 10, 1.0)
        assert not await queue.retry(item.item_id, "ValueError: the store refused it")
        dead = await queue.dead_letters()
    finally:
        await queue.close()
    report = await _ledger(engine, 0.0, dead)
    (letter,) = _entries(report, "dead letter")
    assert (letter.state, letter.channel, letter.address) == (
        AnswerState.DEAD_LETTER,
        "scripted",
        "eve",
    )
    assert letter.unanswered and "the store refused it" in letter.detail

    await dismiss_dead_letter(engine, letter.source_id, "ops", "a load test's message")
    (looked_at,) = _entries(await _ledger(engine, 0.0, dead), "dead letter")
    assert (looked_at.delivery, looked_at.unanswered) == (Delivery.NOT_NEEDED, False)
    assert looked_at.detail == "dismissed by ops: a load test's message"
    with pytest.raises(Conflict, match="dismissed already, by ops"):
        await dismiss_dead_letter(engine, letter.source_id, "sue", "again")
