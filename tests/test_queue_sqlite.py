"""The embedded queue: durable puts, idempotency, leases, retries, dead letters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from inbox.config import QueueSettings
from inbox.models import Envelope
from inbox.queue.sqlite import SqliteQueue


def envelope(external_id: str, text: str = "hello") -> Envelope:
    return Envelope(
        channel="form",
        external_id=external_id,
        identity_channel="email",
        address="ann@example.com",
        text=text,
        received_at=time.time(),
    )


@pytest.fixture
def queue_settings(tmp_path: Path) -> QueueSettings:
    return QueueSettings(
        path=tmp_path / "queue.db",
        visibility_timeout=1.0,
        max_attempts=3,
        retry_backoff=0.01,
        poll_interval=0.02,
    )


@pytest.fixture
async def queue(queue_settings: QueueSettings) -> AsyncIterator[SqliteQueue]:
    q = await SqliteQueue(queue_settings).open()
    yield q
    await q.close()


async def test_put_is_durable_and_idempotent(queue_settings: QueueSettings) -> None:
    q = await SqliteQueue(queue_settings).open()
    (first,) = await q.put([envelope("a")])
    (again,) = await q.put([envelope("a", "changed")])
    await q.close()
    assert not first.duplicate and again.duplicate
    assert again.reference == first.reference

    reopened = await SqliteQueue(queue_settings).open()  # a fresh process sees it
    items = await reopened.claim("w", 10, block=0)
    await reopened.close()
    assert [i.reference for i in items] == [first.reference]
    assert Envelope.from_json(items[0].payload).text == "hello"


async def test_concurrent_puts_share_group_commits_and_get_distinct_references(
    queue: SqliteQueue,
) -> None:
    receipts = await asyncio.gather(*(queue.put([envelope(f"m{i}")]) for i in range(50)))
    references = [r[0].reference for r in receipts]
    assert len(set(references)) == 50
    assert await queue.pending() == 50


async def test_cursor_is_stored_with_the_envelopes(queue: SqliteQueue) -> None:
    assert await queue.cursor("imap:INBOX") is None
    await queue.put([envelope("x")], cursor=("imap:INBOX", "42"))
    assert await queue.cursor("imap:INBOX") == "42"


async def test_claim_ack_and_no_redelivery(queue: SqliteQueue) -> None:
    await queue.put([envelope("a"), envelope("b")])
    first = await queue.claim("w1", 10, block=0)
    assert len(first) == 2
    assert await queue.claim("w2", 10, block=0) == []
    await queue.ack([i.item_id for i in first])
    assert await queue.pending() == 0


async def test_claim_blocks_until_a_put_arrives(queue: SqliteQueue) -> None:
    claiming = asyncio.create_task(queue.claim("w", 10, block=5))
    await asyncio.sleep(0)  # let the claim start waiting
    await queue.put([envelope("late")])
    items = await asyncio.wait_for(claiming, 5)
    assert len(items) == 1


async def test_expired_lease_is_redelivered(queue: SqliteQueue) -> None:
    await queue.put([envelope("a")])
    (taken,) = await queue.claim("dead-worker", 10, block=0)
    assert await queue.claim("w2", 10, block=0) == []
    again = await queue.claim("w2", 10, block=3)  # after the 1 s visibility timeout
    assert [i.item_id for i in again] == [taken.item_id]
    assert again[0].attempts == 2


async def test_retry_backs_off_then_dead_letters_with_reason(queue: SqliteQueue) -> None:
    await queue.put([envelope("poison")])
    for attempt in range(1, 4):
        (item,) = await queue.claim("w", 10, block=3)
        assert item.attempts == attempt
        kept = await queue.retry(item.item_id, f"boom {attempt}")
        assert kept == (attempt < 3)
    assert await queue.claim("w", 10, block=0.2) == []
    (dead,) = await queue.dead_letters()
    assert dead.reason == "boom 3"
    assert dead.attempts == 3
    assert await queue.pending() == 0


async def test_lease_expiring_on_last_try_dead_letters(queue_settings: QueueSettings) -> None:
    q = await SqliteQueue(replace(queue_settings, max_attempts=1)).open()
    await q.put([envelope("a")])
    assert len(await q.claim("dies", 10, block=0)) == 1
    assert await q.claim("w", 10, block=1.5) == []
    (dead,) = await q.dead_letters()
    await q.close()
    assert "lease expired" in dead.reason


async def test_references_stay_above_the_floor(queue: SqliteQueue) -> None:
    await queue.reserve_references_above(5000)
    (receipt,) = await queue.put([envelope("a")])
    assert receipt.reference == 5001
