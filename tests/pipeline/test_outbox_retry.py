"""A failed delivery tried again by hand: back to pending once, however many ask at once,
with its back-off and give-up clock started afresh; only a failed row goes back.

The channel is a stand-in for a third-party service (it refuses on purpose); the sender,
the store and the outbox rows are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings
from inbox.errors import Conflict, NotFound, TransientError
from inbox.store.outbox_retry import Retried, retry_delivery
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import events, outbox
from tests.support.failed_delivery import CUSTOMER, failed_acknowledgement
from tests.support.scripted_channel import ScriptedChannel
from tests.support.tickets import migrated_engine
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(settings)
    yield engine
    await engine.dispose()


async def _row(engine: AsyncEngine, row_id: int) -> dict[str, object]:
    async with engine.connect() as conn:
        found = (await conn.execute(select(outbox).where(outbox.c.id == row_id))).one()
    return dict(found._mapping)


async def test_two_presses_at_once_put_a_failed_row_back_once_with_a_fresh_clock(
    engine: AsyncEngine, settings: Settings
) -> None:
    channel = ScriptedChannel()
    sender, row_id = await failed_acknowledgement(engine, settings, channel)
    # Queued four days ago (past the 72 h give-up), and supervisors were told it lagged.
    assert await OutboxRows(engine).mark_delayed(row_id, "slow", 3600.0)
    async with engine.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(created_at=time.time() - 96 * 3600, attempts=7)
        )

    results = await asyncio.gather(
        retry_delivery(engine, row_id, "ada"),
        retry_delivery(engine, row_id, "bea"),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, Retried)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(done) == 1 and len(refused) == 1, results
    assert "not failed" in str(refused[0])
    assert done[0].error == "550 5.1.1 mailbox unavailable"

    row = await _row(engine, row_id)
    assert row["state"] == "pending" and row["attempts"] == 0
    assert row["delay_alerted_at"] is None and row["lease_until"] is None
    assert row["last_error"] == "550 5.1.1 mailbox unavailable"  # until the next try
    assert float(row["next_attempt_at"]) <= time.time()  # type: ignore[arg-type]
    async with engine.connect() as conn:
        retried = (
            await conn.execute(
                select(events.c.actor, events.c.data).where(events.c.kind == "delivery_retried")
            )
        ).all()
    assert len(retried) == 1 and retried[0].actor in ("ada", "bea")
    assert retried[0].data["outbox_id"] == row_id

    # A temporary failure on the new try is retried, not given up on: the 72 h count from
    # the press, not from when the row was first queued.
    state = await OutboxRows(engine).retry_state(row_id)
    assert state.age < 60 and state.attempts == 0 and not state.alerted
    channel.failures[CUSTOMER] = [TransientError("421 try later")]

    async def sent() -> bool:
        await sender.send_due()
        return (await _row(engine, row_id))["state"] == "sent"

    await until(sent)
    assert channel.sent == [row_id]  # the customer got it once
    assert (await _row(engine, row_id))["attempts"] == 2


async def test_only_a_failed_row_can_be_tried_again(
    engine: AsyncEngine, settings: Settings
) -> None:
    channel = ScriptedChannel()
    sender, row_id = await failed_acknowledgement(engine, settings, channel)
    await retry_delivery(engine, row_id, "ada")
    with pytest.raises(Conflict, match="is pending, not failed"):
        await retry_delivery(engine, row_id, "ada")
    await until(lambda: sender.send_due())
    assert (await _row(engine, row_id))["state"] == "sent"
    with pytest.raises(Conflict, match="is sent, not failed"):
        await retry_delivery(engine, row_id, "ada")
    with pytest.raises(NotFound):
        await retry_delivery(engine, row_id + 1000, "ada")
    assert channel.sent == [row_id]
