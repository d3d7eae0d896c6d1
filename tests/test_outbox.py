"""The outbox sender: retries with back-off, gives up clearly, never sends a row twice.

The channel here is a stand-in for a third-party service (it fails on purpose); the
sender, the store and the outbox rows are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config import OutboxSettings, Settings
from inbox.errors import PermanentError, RateLimited, TransientError
from inbox.ingest import IngestPlan, ingest_batch
from inbox.models import Envelope, Outbound, Priority, TriageDecision
from inbox.outbox import OutboxSender
from inbox.queue import Sink
from inbox.store.engine import create_engine, migrate
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import events, outbox
from tests.conftest import until


@dataclass
class ScriptedChannel:
    """A channel whose answers are scripted: a list of errors to raise, then success."""

    name: str = "scripted"
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    sent: list[int] = field(default_factory=list)
    delay: float = 0.0

    async def run(self, sink: Sink) -> None:
        await asyncio.Event().wait()

    async def send(self, outbound: Outbound) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        script = self.failures.get(outbound.address, [])
        if script:
            raise script.pop(0)
        self.sent.append(outbound.outbox_id)
        return f"id-{outbound.outbox_id}"

    async def close(self) -> None:
        return None


pytestmark = pytest.mark.both_backends


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.store.url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def _tickets(engine: AsyncEngine, settings: Settings, addresses: list[str]) -> None:
    plans = [
        IngestPlan(
            envelope=Envelope("scripted", f"m-{a}", "scripted", a, f"hello from {a}", time.time()),
            reference=2000 + i,
            routing=None,
            triage=TriageDecision(Priority.NORMAL, ()),
        )
        for i, a in enumerate(addresses)
    ]
    async with engine.begin() as conn:
        await ingest_batch(conn, plans, settings, lambda _env: "standard")


def _fast(settings: Settings, max_attempts: int = 8) -> OutboxSettings:
    return replace(
        settings.outbox, retry_backoff=0.01, poll_interval=0.01, max_attempts=max_attempts
    )


async def _states(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.address, outbox.c.state))).all()
    return {r.address: r.state for r in rows}


async def test_transient_failures_are_retried_until_sent(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _tickets(engine, settings, ["flaky", "steady"])
    channel = ScriptedChannel(failures={"flaky": [TransientError("timeout"), OSError("reset")]})
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )

    async def all_sent() -> bool:
        await sender.send_due()
        return set((await _states(engine)).values()) == {"sent"}

    await until(all_sent)
    assert sorted(Counter(channel.sent).values()) == [1, 1]
    async with engine.connect() as conn:
        attempts = dict((await conn.execute(select(outbox.c.address, outbox.c.attempts))).all())
    assert attempts == {"flaky": 3, "steady": 1}


async def test_permanent_failure_is_recorded_on_the_conversation(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _tickets(engine, settings, ["blocked"])
    channel = ScriptedChannel(failures={"blocked": [PermanentError("the user blocked the bot")]})
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )
    await sender.send_due()
    assert await _states(engine) == {"blocked": "failed"}
    assert channel.sent == []
    async with engine.connect() as conn:
        failure = (
            await conn.execute(select(events.c.data).where(events.c.kind == "delivery_failed"))
        ).scalar_one()
    assert failure["error"] == "the user blocked the bot"


async def test_gives_up_after_max_attempts_and_honours_retry_after(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _tickets(engine, settings, ["down", "busy"])
    channel = ScriptedChannel(
        failures={
            "down": [TransientError("down")] * 10,
            "busy": [RateLimited("slow down", retry_after=0.3)],
        }
    )
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings, max_attempts=3), asyncio.Event()
    )
    started = time.monotonic()

    async def settled() -> bool:
        await sender.send_due()
        return set((await _states(engine)).values()) <= {"sent", "failed"}

    await until(settled)
    assert await _states(engine) == {"down": "failed", "busy": "sent"}
    assert time.monotonic() - started >= 0.3  # the busy row waited as the channel asked
    async with engine.connect() as conn:
        error = (
            await conn.execute(select(outbox.c.last_error).where(outbox.c.address == "down"))
        ).scalar_one()
    assert error.startswith("gave up after 3 tries")


async def test_two_senders_never_send_a_row_twice(engine: AsyncEngine, settings: Settings) -> None:
    addresses = [f"c{i}" for i in range(40)]
    await _tickets(engine, settings, addresses)
    channel = ScriptedChannel(delay=0.001)
    rows = OutboxRows(engine)
    senders = [
        OutboxSender(rows, {"scripted": channel}, _fast(settings), asyncio.Event())
        for _ in range(3)
    ]
    await asyncio.gather(*(s.send_due(limit=7) for s in senders for _ in range(4)))

    async def all_sent() -> bool:
        await senders[0].send_due()
        return set((await _states(engine)).values()) == {"sent"}

    await until(all_sent)
    assert len(channel.sent) == 40
    assert set(Counter(channel.sent).values()) == {1}
