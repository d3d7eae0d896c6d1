"""Supervisors hear of an unanswered contact once, on the dashboard and by their alert
channels, however many watchers run — on both back-ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import LedgerSettings, Settings
from inbox.errors import PermanentError
from inbox.models import Envelope
from inbox.pipeline.outbox import OutboxSender
from inbox.sla.unanswered import UnansweredWatcher
from inbox.sla.watcher import AlertRecipients
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import events, outbox
from tests.support.scripted_channel import ScriptedChannel
from tests.support.tickets import ingest_tickets, migrated_engine

pytestmark = pytest.mark.both_backends

LATER = 16 * 60  # past the default unanswered_after_minutes (15)
BOSS = AlertRecipients((("scripted", "boss"),), ("unanswered",), "https://help.example.com")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(settings)
    yield engine
    await engine.dispose()


def _watcher(engine: AsyncEngine, later: float) -> UnansweredWatcher:
    return UnansweredWatcher(
        engine, None, LedgerSettings(), recipients=BOSS, clock=lambda: time.time() + later
    )


async def _failed_acknowledgement(engine: AsyncEngine, settings: Settings) -> None:
    mail = Envelope("scripted", "m-1", "scripted", "ann", "Where is my order?", time.time())
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, [mail], first_reference=5000)
    channel = ScriptedChannel(failures={"ann": [PermanentError("550 no such user")]})
    fast = replace(settings.outbox, retry_backoff=0.01)
    await OutboxSender(OutboxRows(engine), {"scripted": channel}, fast, asyncio.Event()).send_due()


async def _rows(engine: AsyncEngine, *columns):  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return (await conn.execute(select(*columns))).all()


async def test_an_unanswered_ticket_is_raised_once_to_the_dashboard_and_the_recipients(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _failed_acknowledgement(engine, settings)
    assert await _watcher(engine, 0.0).check() == []  # too young to be unanswered

    (raised,) = await _watcher(engine, LATER).check()
    assert (raised.reference, raised.delivery.value) == (5000, "failed")
    assert await _watcher(engine, LATER).check() == []  # another watcher: not again
    alerts = await _rows(engine, events.c.kind, events.c.actor, events.c.data)
    (alert,) = [a for a in alerts if a.kind == "unanswered"]
    assert alert.actor == "ledger" and "550 no such user" in alert.data["error"]
    sent = await _rows(engine, outbox.c.kind, outbox.c.address, outbox.c.conversation_id)
    assert [(r.kind, r.address) for r in sent if r.kind == "alert"] == [("alert", "boss")]


async def test_a_quarantined_message_is_raised_without_a_ticket(
    engine: AsyncEngine, settings: Settings
) -> None:
    spam = Envelope("scripted", "q-1", "scripted", "spammer", "Cheap pills", time.time())
    async with engine.begin() as conn:
        await ingest_tickets(
            conn, settings, [replace(spam, quarantine="spam: pills")], first_reference=5100
        )
    (raised,) = await _watcher(engine, LATER).check()
    assert raised.source == "quarantine"
    (row,) = await _rows(engine, outbox.c.kind, outbox.c.conversation_id, outbox.c.text)
    assert row.kind == "alert" and row.conversation_id is None
    assert "Unanswered: quarantine" in row.text and "/supervisor" in row.text
