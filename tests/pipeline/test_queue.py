"""The queue on both back-ends (the embedded SQLite file, Redis Streams): durable puts,
idempotency, leases, retries, dead letters."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from inbox.config.settings import QueueSettings
from inbox.errors import InvalidMessage, QueueUnavailable
from inbox.models import Envelope, MessageMeta
from inbox.queue import Queue, open_queue
from inbox.queue.base import PROCESS_STARTED, abandoned, consumer_name
from inbox.queue.redis_streams import RedisStreamsQueue, block_millis
from tests.support import backends

pytestmark = pytest.mark.both_backends


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
def queue_settings(tmp_path: Path, backend: str) -> QueueSettings:
    url, name = backends.scaled_queue(tmp_path) if backend == "scaled" else ("", "inbox")
    return QueueSettings(
        url=url,
        name=name,
        path=tmp_path / "queue.db",
        visibility_timeout=1.0,
        max_attempts=3,
        retry_backoff=0.01,
        poll_interval=0.02,
    )


@pytest.fixture
async def queue(queue_settings: QueueSettings) -> AsyncIterator[Queue]:
    q = await open_queue(queue_settings)
    yield q
    await q.close()


async def test_put_is_durable_and_idempotent(queue_settings: QueueSettings) -> None:
    q = await open_queue(queue_settings)
    (first,) = await q.put([envelope("a")])
    (again,) = await q.put([envelope("a", "changed")])
    await q.close()
    assert not first.duplicate and again.duplicate
    assert again.reference == first.reference

    reopened = await open_queue(queue_settings)  # a fresh process sees it
    items = await reopened.claim("w", 10, block=0)
    await reopened.close()
    assert [i.reference for i in items] == [first.reference]
    assert Envelope.from_json(items[0].payload).text == "hello"


async def test_concurrent_puts_get_distinct_references(
    queue: Queue,
) -> None:
    receipts = await asyncio.gather(*(queue.put([envelope(f"m{i}")]) for i in range(50)))
    references = [r[0].reference for r in receipts]
    assert len(set(references)) == 50
    assert await queue.pending() == 50


async def test_cursor_is_stored_with_the_envelopes(queue: Queue) -> None:
    assert await queue.cursor("imap:INBOX") is None
    await queue.put([envelope("x")], cursor=("imap:INBOX", "42"))
    assert await queue.cursor("imap:INBOX") == "42"


async def test_claim_ack_and_no_redelivery(queue: Queue) -> None:
    await queue.put([envelope("a"), envelope("b")])
    first = await queue.claim("w1", 10, block=0)
    assert len(first) == 2
    assert await queue.claim("w2", 10, block=0) == []
    await queue.ack([i.item_id for i in first])
    assert await queue.pending() == 0


async def test_claim_blocks_until_a_put_arrives(queue: Queue) -> None:
    claiming = asyncio.create_task(queue.claim("w", 10, block=5))
    await asyncio.sleep(0)  # let the claim start waiting
    await queue.put([envelope("late")])
    items = await asyncio.wait_for(claiming, 5)
    assert len(items) == 1


async def test_expired_lease_is_redelivered(queue: Queue) -> None:
    await queue.put([envelope("a")])
    (taken,) = await queue.claim("dead-worker", 10, block=0)
    assert await queue.claim("w2", 10, block=0) == []
    again = await queue.claim("w2", 10, block=3)  # after the 1 s visibility timeout
    assert [i.item_id for i in again] == [taken.item_id]
    assert again[0].attempts == 2


async def test_retry_backs_off_then_dead_letters_with_reason(queue: Queue) -> None:
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


async def test_a_dead_letter_put_back_gets_a_fresh_set_of_tries(queue: Queue) -> None:
    await queue.put([envelope("fixed-later", "where is my parcel")])
    for attempt in range(1, 4):
        (item,) = await queue.claim("w", 10, block=3)
        await queue.retry(item.item_id, f"the store refused it ({attempt})")
    (dead,) = await queue.dead_letters()
    assert await queue.requeue_dead("12345-0") is False  # no such letter
    assert await queue.requeue_dead("not an id") is False
    assert await queue.requeue_dead(dead.item_id) is True
    assert await queue.dead_letters() == [] and await queue.dead_count() == 0
    (again,) = await queue.claim("w", 10, block=3)
    assert again.attempts == 1 and json.loads(again.payload)["text"] == "where is my parcel"
    assert await queue.requeue_dead(dead.item_id) is False  # put back once
    await queue.ack([again.item_id])
    assert await queue.pending() == 0


async def test_lease_expiring_on_last_try_dead_letters(queue_settings: QueueSettings) -> None:
    q = await open_queue(replace(queue_settings, max_attempts=1))
    await q.put([envelope("a")])
    assert len(await q.claim("dies", 10, block=0)) == 1
    assert await q.claim("w", 10, block=1.5) == []
    (dead,) = await q.dead_letters()
    await q.close()
    assert "lease expired" in dead.reason


async def test_references_stay_above_the_floor(queue: Queue) -> None:
    await queue.reserve_references_above(5000)
    (receipt,) = await queue.put([envelope("a")])
    assert receipt.reference == 5001


async def test_cursor_and_envelopes_are_one_step(queue: Queue) -> None:
    """A put that carries a cursor stores both or, for a duplicate, still the cursor."""
    await queue.put([envelope("a"), envelope("b")], cursor=("tg", "7"))
    await queue.put([envelope("b")], cursor=("tg", "8"))
    assert await queue.cursor("tg") == "8"
    assert await queue.pending() == 2


async def test_unreachable_server_is_a_clear_error(tmp_path: Path, backend: str) -> None:
    if backend != "scaled":
        pytest.skip("the embedded queue has no server")
    settings = QueueSettings(url="redis://127.0.0.1:1/0", name="nowhere", path=tmp_path / "q")
    q = RedisStreamsQueue(settings)
    with pytest.raises(QueueUnavailable, match="Redis queue: put failed"):
        await q.put([envelope("a")])
    await q.close()


async def test_redis_keeps_only_unfinished_entries(queue: Queue, backend: str) -> None:
    """Acknowledged entries leave the stream; dead ones move to the dead-letter stream;
    every acknowledgement is counted once, even when a redelivered entry is acked again."""
    if backend != "scaled":
        pytest.skip("Redis Streams only")
    assert isinstance(queue, RedisStreamsQueue)
    await queue.put([envelope(f"m{i}") for i in range(5)])
    items = await queue.claim("w", 10, block=0)
    await queue.ack([i.item_id for i in items[:3]])
    await queue.ack([items[0].item_id])  # a second worker finishing the same entry
    assert await queue.acked_count() == 3
    assert await queue.pending() == 2
    assert await queue.in_flight() == 2
    assert await queue.retry(items[3].item_id, "boom")  # first try of three: backs off
    await queue.ack([items[3].item_id, items[4].item_id])
    assert await queue.pending() == 0
    assert await queue.in_flight() == 0
    assert await queue.acked_count() == 5


def test_a_wait_under_a_millisecond_never_blocks_for_ever() -> None:
    """Redis reads BLOCK 0 as "for ever": the last sliver of a claim's wait must not."""
    assert [block_millis(w) for w in (0.0, -1.0, 0.0004, 0.0015, 0.02)] == [None, None, 1, 2, 20]


async def test_lone_surrogates_are_stored_replaced_and_fail_no_other_put(queue: Queue) -> None:
    """A lone surrogate (``"\\udc80"`` in JSON) fits no UTF-8 store: in a field that skipped
    text cleaning it is stored as U+FFFD, and the puts beside it are not touched."""
    poisoned = {
        3: envelope("p3", "bad \udc80 text"),
        11: replace(envelope("p11"), sender_name="Ann \ud800"),
        19: envelope("p19\udfff", "pair \ud83d\ude00 and lone \ud83d"),
    }
    envelopes = [poisoned.get(i, envelope(f"m{i}")) for i in range(27)]
    receipts = await asyncio.gather(*(queue.put([env]) for env in envelopes))
    assert len({r.reference for (r,) in receipts}) == 27
    items = await queue.claim("w", 100, block=0)
    stored = {e.external_id: e for e in (Envelope.from_json(i.payload) for i in items)}
    assert len(stored) == 27
    assert stored["p3"].text == "bad \ufffd text"
    assert stored["p11"].sender_name == "Ann \ufffd"
    assert stored["p19\ufffd"].text == "pair \U0001f600 and lone \ufffd"
    (again,) = await queue.put([envelope("p19\udfff")])
    assert again.duplicate and again.reference == receipts[19][0].reference


async def test_a_put_that_cannot_be_stored_fails_alone(queue: Queue) -> None:
    """A connector's bug (a field of the wrong type) fails its own put with a clear error;
    the puts that shared its group commit are stored."""
    broken = replace(envelope("broken"), meta=MessageMeta(ip=b"12"))  # type: ignore[arg-type]
    envelopes = [broken if i % 9 == 4 else envelope(f"m{i}") for i in range(27)]
    outcomes = await asyncio.gather(
        *(queue.put([env]) for env in envelopes), return_exceptions=True
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 3
    assert all(isinstance(err, InvalidMessage) for err in failed), failed
    assert "form message 'broken' cannot be queued" in str(failed[0])
    assert await queue.pending() == 24


async def test_acknowledged_payloads_go_and_the_file_stays_small(
    queue_settings: QueueSettings, backend: str
) -> None:
    """Done items keep their identity (a message put again is still a duplicate) but not
    their payload, and the freed pages go back to the file system."""
    if backend != "embedded":
        pytest.skip("the embedded queue's file")
    q = await open_queue(queue_settings)
    big = "x" * 1_000_000
    files = [queue_settings.path, queue_settings.path.with_name("queue.db-wal")]
    largest = 0
    for i in range(40):
        (receipt,) = await q.put([envelope(f"big{i}", big)])
        (item,) = await q.claim("w", 10, block=0)
        await q.ack([item.item_id])
        largest = max(largest, sum(f.stat().st_size for f in files if f.exists()))
    (again,) = await q.put([envelope("big39", big)])
    await q.close()
    assert again.duplicate and again.reference == receipt.reference
    assert largest < 12_000_000, f"the queue's files reached {largest} bytes"
    assert queue_settings.path.stat().st_size < 4_000_000


async def test_a_file_from_before_is_compacted_at_open(
    queue_settings: QueueSettings, backend: str
) -> None:
    """A queue file whose done items still hold their payloads (as every file did) loses
    them at the next start, and shrinks; the items are still known as duplicates."""
    if backend != "embedded":
        pytest.skip("the embedded queue's file")
    from inbox.queue.sqlite import SCHEMA

    conn = sqlite3.connect(queue_settings.path)
    conn.executescript(SCHEMA)
    now = time.time()
    payload = envelope("old", "x" * 1_000_000).to_json()
    with conn:
        conn.executemany(
            "INSERT INTO items (channel, external_id, payload, reference, state,"
            " available_at, created_at) VALUES ('form', ?, ?, ?, 'done', ?, ?)",
            [(f"old{i}", payload, 1001 + i, now, now) for i in range(20)],
        )
    conn.close()
    assert queue_settings.path.stat().st_size > 20_000_000
    q = await open_queue(queue_settings)
    (again,) = await q.put([envelope("old3")])
    await q.close()
    assert again.duplicate and again.reference == 1004
    assert queue_settings.path.stat().st_size < 2_000_000


async def test_done_items_are_forgotten_after_the_duplicate_window(
    queue_settings: QueueSettings, backend: str
) -> None:
    if backend != "embedded":
        pytest.skip("Redis expires its seen keys itself")
    from inbox.queue.sqlite import SqliteQueue

    q = await SqliteQueue(queue_settings, dedup_seconds=0).open()
    (first,) = await q.put([envelope("a")])
    (item,) = await q.claim("w", 10, block=0)
    await q.ack([item.item_id])
    await q.ack([item.item_id])  # the window is over: the done row goes
    (later,) = await q.put([envelope("a")])
    await q.close()
    assert not later.duplicate and later.reference > first.reference


async def _hold_in_a_process(settings: QueueSettings, count: int) -> tuple[Process, list[str]]:
    """A worker process that claimed ``count`` items and hangs."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.queue_holder",
        settings.url,
        settings.name,
        str(settings.path),
        str(count),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    return proc, list(json.loads(line))


async def test_a_restarted_worker_takes_back_a_dead_processs_claims_at_once(
    queue_settings: QueueSettings,
) -> None:
    """A worker process on this host that died leaves its claims to the next process's
    first claim at once, not after the visibility timeout; a live one keeps its own."""
    settings = replace(queue_settings, visibility_timeout=600)
    q = await open_queue(settings)
    await q.put([envelope("a"), envelope("b"), envelope("c")])
    await q.close()
    proc, held = await _hold_in_a_process(settings, 1)
    try:
        sibling = await open_queue(settings)  # a live sibling's claim stays its own
        others = await sibling.claim(consumer_name(":0"), 10, block=0)
        await sibling.close()
        assert len(others) == 2 and held[0] not in {i.item_id for i in others}
    finally:
        proc.kill()
        await proc.wait()
    restarted = await open_queue(settings)
    try:
        taken = await restarted.claim(consumer_name(":1"), 10, block=0)
    finally:
        await restarted.close()
    assert [i.item_id for i in taken] == held
    assert taken[0].attempts == 2


def test_a_previous_life_with_this_pid_is_abandoned() -> None:
    """A restarted container's process has its previous life's pid: what that name
    claimed before this process started is abandoned, what it claims now is not."""
    me = consumer_name(":0")
    assert abandoned(me, PROCESS_STARTED - 1)
    assert not abandoned(me, time.time())
    assert not abandoned(f"elsewhere.example:{os.getpid()}:0", 0.0)
    assert not abandoned("backing-off", 0.0)
