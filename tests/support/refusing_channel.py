"""A channel standing in for a third-party service that refuses on purpose, and a ticket
whose acknowledgement it refused for good (a failed outbox row), for the tests of trying
a delivery again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import OutboxSettings, Settings
from inbox.errors import PermanentError
from inbox.models import Envelope, Outbound
from inbox.pipeline.outbox import OutboxSender
from inbox.queue import Sink
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import outbox
from tests.support.tickets import ingest_tickets


@dataclass
class RefusingChannel:
    """Answers each send with the next scripted error, then accepts."""

    name: str = "scripted"
    errors: list[Exception] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)

    async def run(self, sink: Sink) -> None:
        await asyncio.Event().wait()

    async def send(self, outbound: Outbound) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(outbound.outbox_id)
        return f"id-{outbound.outbox_id}"

    async def close(self) -> None:
        return None


def _fast(settings: Settings) -> OutboxSettings:
    return replace(settings.outbox, retry_backoff=0.01, retry_backoff_max=0.02, poll_interval=0.01)


async def failed_acknowledgement(
    engine: AsyncEngine, settings: Settings, channel: RefusingChannel
) -> tuple[OutboxSender, int]:
    """A ticket whose acknowledgement the channel refused for good; the sender and row."""
    envelope = Envelope("scripted", "m-1", "scripted", "ann", "hello", time.time())
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, [envelope], first_reference=3000)
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )
    channel.errors.append(PermanentError("550 5.1.1 mailbox unavailable"))
    await sender.send_due()
    async with engine.connect() as conn:
        row_id, state = (await conn.execute(select(outbox.c.id, outbox.c.state))).one()
    assert state == "failed"
    return sender, int(row_id)
