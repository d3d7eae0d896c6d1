"""The outbox sender: retries with back-off, gives up clearly, never sends a row twice.

The channel here is a stand-in for a third-party service (it fails on purpose); the
sender, the store and the outbox rows are the real ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import OutboxSettings, Settings
from inbox.errors import PermanentError, RateLimited, TransientError
from inbox.models import Envelope, Outbound
from inbox.pipeline.outbox import OutboxSender
from inbox.store.accounts import Accounts
from inbox.store.dashboard_rows import dashboard
from inbox.store.engine import create_engine, migrate
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import conversations, events, outbox
from tests.support.scripted_channel import ScriptedChannel
from tests.support.tickets import ingest_tickets
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.store.url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def _tickets(engine: AsyncEngine, settings: Settings, addresses: list[str]) -> None:
    envelopes = [
        Envelope("scripted", f"m-{a}", "scripted", a, f"hello from {a}", time.time())
        for a in addresses
    ]
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, envelopes, first_reference=2000)


def _fast(settings: Settings, **changes: float) -> OutboxSettings:
    return replace(
        settings.outbox,
        **{"retry_backoff": 0.01, "retry_backoff_max": 0.02, "poll_interval": 0.01, **changes},
    )


async def _states(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.address, outbox.c.state))).all()
    return {r.address: r.state for r in rows}


@dataclass
class _SentAtEachSend:
    """How many rows the store already shows as sent, looked at as each send begins."""

    engine: AsyncEngine
    counts: list[int] = field(default_factory=list)

    async def look(self, _outbound: Outbound) -> None:
        states = await _states(self.engine)
        self.counts.append(sum(1 for state in states.values() if state == "sent"))


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


async def _sent_until(engine: AsyncEngine, sender: OutboxSender) -> None:
    async def settled() -> bool:
        await sender.send_due()
        return set((await _states(engine)).values()) <= {"sent", "failed"}

    await until(settled)


async def _attempts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(outbox.c.address, outbox.c.attempts))).all())


async def test_a_long_outage_is_retried_until_the_answer_goes_out(
    engine: AsyncEngine, settings: Settings
) -> None:
    # Thirty temporary failures in a row (a mail server down for a while): far past the
    # eight tries after which answers used to be given up on, silently.
    await _tickets(engine, settings, ["down"])
    channel = ScriptedChannel(failures={"down": [TransientError("451 try later")] * 30})
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )
    await _sent_until(engine, sender)
    assert await _states(engine) == {"down": "sent"}
    assert channel.sent != [] and await _attempts(engine) == {"down": 31}
    assert sender.metrics.counters["inbox_outbox_retried_total"] == 30
    assert sender.metrics.counters.get("inbox_outbox_failed_total", 0) == 0


async def test_rate_limits_wait_as_asked_and_are_not_tries(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _tickets(engine, settings, ["busy"])
    channel = ScriptedChannel(failures={"busy": [RateLimited("slow down", retry_after=0.05)] * 12})
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )
    started = time.monotonic()
    await _sent_until(engine, sender)
    assert await _states(engine) == {"busy": "sent"}
    assert time.monotonic() - started >= 12 * 0.05  # each wait as long as the channel asked
    assert await _attempts(engine) == {"busy": 1}  # only the try that went through counts


async def test_gives_up_only_after_give_up_after_hours_and_says_so(
    engine: AsyncEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await _tickets(engine, settings, ["down"])
    channel = ScriptedChannel(failures={"down": [TransientError("connection refused")] * 10_000})
    give_up_after = 1.0  # seconds, here
    sender = OutboxSender(
        OutboxRows(engine),
        {"scripted": channel},
        _fast(settings, give_up_after_hours=give_up_after / 3600),
        asyncio.Event(),
    )
    started = time.monotonic()
    await _sent_until(engine, sender)
    assert time.monotonic() - started >= give_up_after * 0.9  # created just before started
    assert await _states(engine) == {"down": "failed"}
    assert sender.metrics.counters["inbox_outbox_failed_total"] == 1
    async with engine.connect() as conn:
        error = (await conn.execute(select(outbox.c.last_error))).scalar_one()
        shown = (
            await conn.execute(select(events.c.data).where(events.c.kind == "delivery_failed"))
        ).scalar_one()
    assert error.startswith("gave up after 0.0 h and ") and "connection refused" in error
    assert shown["error"] == error  # on the conversation, for its agents
    gave_up = [r for r in caplog.records if r.levelname == "ERROR" and "gave up" in r.message]
    assert len(gave_up) == 1 and "connection refused" in gave_up[0].message


async def test_an_answer_failing_for_long_is_raised_to_supervisors_once(
    engine: AsyncEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="inbox.pipeline.outbox")
    await _tickets(engine, settings, ["down", "fine"])
    channel = ScriptedChannel(failures={"down": [TransientError("451 try later")] * 40})
    sender = OutboxSender(
        OutboxRows(engine),
        {"scripted": channel},
        _fast(settings, alert_after_minutes=0.2 / 60),
        asyncio.Event(),
    )
    await _sent_until(engine, sender)
    assert await _states(engine) == {"down": "sent", "fine": "sent"}
    async with engine.connect() as conn:
        raised = (
            await conn.execute(select(events.c.data).where(events.c.kind == "delivery_delayed"))
        ).all()
        down_id = (
            await conn.execute(select(outbox.c.id).where(outbox.c.address == "down"))
        ).scalar_one()
    assert [r.data["outbox_id"] for r in raised] == [down_id]
    assert raised[0].data["error"] == "TransientError: 451 try later"
    assert sender.metrics.counters["inbox_outbox_delayed_total"] == 1
    warned = [r for r in caplog.records if r.levelname == "WARNING" and "still not" in r.message]
    assert len(warned) == 1 and "down" in warned[0].message
    # Every failure left a line in the log, not only the warning.
    retried = [r for r in caplog.records if "451 try later" in r.message]
    assert len(retried) >= 40
    async with engine.connect() as conn:
        team = (await conn.execute(select(conversations.c.team).limit(1))).scalar_one()
    boss, _token = await Accounts(engine).add_agent("boss", [team], role="supervisor")
    alerts = (await dashboard(engine, boss)).alerts
    assert [(a["kind"], a["target"]) for a in alerts] == [
        ("delivery_delayed", "TransientError: 451 try later")
    ]  # among the supervisor dashboard's recent alerts


async def test_each_delivery_is_committed_before_the_next_send(
    engine: AsyncEngine, settings: Settings
) -> None:
    # A crash can then repeat only the one send in flight, never the pass's earlier ones.
    addresses = [f"c{i}" for i in range(8)]
    await _tickets(engine, settings, addresses)
    recorded = _SentAtEachSend(engine)
    channel = ScriptedChannel(on_send=recorded.look)
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, _fast(settings), asyncio.Event()
    )
    assert await sender.send_due() == 8  # one pass
    assert recorded.counts == list(range(8))
    assert set((await _states(engine)).values()) == {"sent"}


async def test_a_repeat_safe_channel_records_its_pass_in_one_commit(
    engine: AsyncEngine, settings: Settings
) -> None:
    # The web form's "send" only points at the store: repeating it is harmless, so its
    # deliveries share one commit (a commit per answer would slow the web role down).
    await _tickets(engine, settings, [f"c{i}" for i in range(5)])
    recorded = _SentAtEachSend(engine)
    channel = ScriptedChannel(on_send=recorded.look)
    sender = OutboxSender(
        OutboxRows(engine),
        {"scripted": channel},
        _fast(settings),
        asyncio.Event(),
        repeat_safe=["scripted"],
    )
    assert await sender.send_due() == 5
    assert recorded.counts == [0] * 5
    assert set((await _states(engine)).values()) == {"sent"}
    assert sender.metrics.counters["inbox_outbox_sent_total"] == 5


async def test_a_pass_hands_back_what_its_lease_cannot_cover(
    engine: AsyncEngine, settings: Settings
) -> None:
    addresses = [f"c{i}" for i in range(10)]
    await _tickets(engine, settings, addresses)
    channel = ScriptedChannel(delay=0.1)
    rows = OutboxRows(engine)
    slow = OutboxSender(
        rows, {"scripted": channel}, _fast(settings, lease_seconds=1.0), asyncio.Event()
    )
    handled = await slow.send_due()
    assert 0 < handled < 10  # a send may start in the first 0.2 s of the 1 s lease only
    left = {a: s for a, s in (await _states(engine)).items() if s != "sent"}
    assert set(left.values()) == {"pending"}  # handed back, not left leased for a minute
    attempts = await _attempts(engine)
    assert {attempts[a] for a in left} == {0}  # and no try counted
    other = OutboxSender(rows, {"scripted": channel}, _fast(settings), asyncio.Event())
    assert await other.send_due() == len(left)
    assert sorted(Counter(channel.sent).values()) == [1] * 10


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
