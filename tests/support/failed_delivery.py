"""A ticket whose acknowledgement the scripted stand-in channel refused for good (a
failed outbox row), for the tests of trying a delivery again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import OutboxSettings, Settings
from inbox.errors import PermanentError
from inbox.models import Envelope
from inbox.pipeline.outbox import OutboxSender
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import outbox
from tests.support.scripted_channel import ScriptedChannel
from tests.support.tickets import ingest_tickets

CUSTOMER = "ann"  # the address the channel refuses


def _fast(settings: Settings) -> OutboxSettings:
    return replace(settings.outbox, retry_backoff=0.01, retry_backoff_max=0.02, poll_interval=0.01)


async def failed_acknowledgement(
    engine: AsyncEngine, settings: Settings, channel: ScriptedChannel
) -> tuple[OutboxSender, int]:
    """A ticket whose acknowledgement the channel refused for good; the sender and row."""
    envelope = Envelope("scripted", "m-1", "scripted", CUSTOMER, "hello", time.time())
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, [envelope], first_reference=3000)
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )
    channel.failures.setdefault(CUSTOMER, []).append(
        PermanentError("550 5.1.1 mailbox unavailable")
    )
    await sender.send_due()
    async with engine.connect() as conn:
        row_id, state = (await conn.execute(select(outbox.c.id, outbox.c.state))).one()
    assert state == "failed"
    return sender, int(row_id)
