"""The embedded queue: one SQLite file, write-ahead log, group commit.

Every ``put`` joins the next group commit: one transaction (synchronous=FULL, so it is on
disk, not just in the page cache) covers every put waiting at that moment, so durability
costs one fsync per group rather than one per message. All SQLite work runs on one thread
of its own so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from inbox.config import QueueSettings
from inbox.models import DeadLetter, Envelope, QueueItem, Receipt
from inbox.queue.base import FIRST_REFERENCE

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    reference INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'ready',
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL,
    claimed_by TEXT,
    lease_until REAL,
    last_error TEXT,
    created_at REAL NOT NULL,
    UNIQUE (channel, external_id)
);
CREATE INDEX IF NOT EXISTS items_ready ON items (state, available_at);
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class _PendingPut:
    def __init__(self, envelopes: Sequence[Envelope], cursor: tuple[str, str] | None) -> None:
        self.envelopes = envelopes
        self.cursor = cursor
        self.future: asyncio.Future[list[Receipt]] = asyncio.get_running_loop().create_future()


class SqliteQueue:
    """The default queue: durable, single machine, any number of in-process workers."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[_PendingPut] = []
        self._flusher: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    async def open(self) -> SqliteQueue:
        """Opens (and creates) the queue file."""
        await self._run(self._open_sync)
        return self

    def _open_sync(self) -> None:
        path: Path = self.settings.path
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO counters (name, value) VALUES ('reference', ?)",
            (FIRST_REFERENCE - 1,),
        )
        self._conn = conn

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("queue is not open")
        return self._conn

    # -- Sink -------------------------------------------------------------------------

    async def put(
        self, envelopes: Sequence[Envelope], cursor: tuple[str, str] | None = None
    ) -> list[Receipt]:
        """Joins the next group commit and returns once it is on disk."""
        pending = _PendingPut(envelopes, cursor)
        self._pending.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        receipts = await pending.future
        self._arrived.set()
        return receipts

    async def _flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                results = await self._run(functools.partial(self._put_sync, group))
            except Exception as err:  # every waiter learns why its put failed
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(err)
                continue
            for pending, receipts in zip(group, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(receipts)

    def _put_sync(self, group: list[_PendingPut]) -> list[list[Receipt]]:
        conn = self.conn
        now = time.time()
        results: list[list[Receipt]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for pending in group:
                receipts: list[Receipt] = []
                for env in pending.envelopes:
                    row = conn.execute(
                        "SELECT reference FROM items WHERE channel=? AND external_id=?",
                        (env.channel, env.external_id),
                    ).fetchone()
                    if row is not None:
                        receipts.append(Receipt(env.channel, env.external_id, row[0], True))
                        continue
                    (reference,) = conn.execute(
                        "UPDATE counters SET value = value + 1 WHERE name='reference' "
                        "RETURNING value"
                    ).fetchone()
                    conn.execute(
                        "INSERT INTO items (channel, external_id, payload, reference,"
                        " available_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (env.channel, env.external_id, env.to_json(), reference, now, now),
                    )
                    receipts.append(Receipt(env.channel, env.external_id, reference, False))
                if pending.cursor is not None:
                    conn.execute(
                        "INSERT INTO cursors (source, value) VALUES (?, ?) "
                        "ON CONFLICT (source) DO UPDATE SET value=excluded.value",
                        pending.cursor,
                    )
                results.append(receipts)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    async def cursor(self, source: str) -> str | None:
        """The last cursor stored for ``source``."""

        def read() -> str | None:
            row = self.conn.execute("SELECT value FROM cursors WHERE source=?", (source,))
            found = row.fetchone()
            return None if found is None else str(found[0])

        return await self._run(read)

    # -- Queue ------------------------------------------------------------------------

    async def claim(self, consumer: str, max_items: int, block: float) -> list[QueueItem]:
        """Claims ready items and items whose worker's lease ran out."""
        deadline = time.monotonic() + block
        while True:
            self._arrived.clear()
            items = await self._run(lambda: self._claim_sync(consumer, max_items))
            remaining = deadline - time.monotonic()
            if items or remaining <= 0:
                return items
            wait = min(remaining, self.settings.poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=wait)

    def _claim_sync(self, consumer: str, max_items: int) -> list[QueueItem]:
        conn = self.conn
        now = time.time()
        lease = now + self.settings.visibility_timeout
        conn.execute("BEGIN IMMEDIATE")
        try:
            # A lease that ran out means its worker died or hung: that try counts, and an
            # item that has used up its tries that way is dead-lettered, not retried.
            conn.execute(
                "UPDATE items SET state='dead', claimed_by=NULL, lease_until=NULL,"
                " last_error=coalesce(last_error || '; ', '') || 'worker lease expired'"
                " WHERE state='claimed' AND lease_until < ? AND attempts >= ?",
                (now, self.settings.max_attempts),
            )
            rows = conn.execute(
                "UPDATE items SET state='claimed', claimed_by=?, lease_until=?,"
                " attempts=attempts+1 WHERE id IN (SELECT id FROM items WHERE"
                " (state='ready' AND available_at <= ?) OR (state='claimed' AND lease_until < ?)"
                " ORDER BY id LIMIT ?) RETURNING id, payload, reference, attempts",
                (consumer, lease, now, now, max_items),
            ).fetchall()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        rows.sort(key=lambda r: int(r[0]))
        return [QueueItem(str(r[0]), r[1], r[2], r[3]) for r in rows]

    async def ack(self, item_ids: Sequence[str]) -> None:
        """Marks items done."""
        if not item_ids:
            return
        ids = [int(item_id) for item_id in item_ids]

        def ack_sync() -> None:
            marks = ",".join("?" * len(ids))
            self.conn.execute(
                f"UPDATE items SET state='done', claimed_by=NULL, lease_until=NULL"  # noqa: S608
                f" WHERE id IN ({marks})",
                ids,
            )

        await self._run(ack_sync)

    async def retry(self, item_id: str, reason: str) -> bool:
        """Backs off exponentially; dead-letters once the tries are used up."""
        s = self.settings

        def retry_sync() -> bool:
            row = self.conn.execute("SELECT attempts FROM items WHERE id=?", (int(item_id),))
            found = row.fetchone()
            if found is None:
                return False
            attempts = int(found[0])
            if attempts >= s.max_attempts:
                self.conn.execute(
                    "UPDATE items SET state='dead', claimed_by=NULL, lease_until=NULL,"
                    " last_error=? WHERE id=?",
                    (reason, int(item_id)),
                )
                return False
            delay = min(s.retry_backoff * 2 ** (attempts - 1), s.retry_backoff_max)
            self.conn.execute(
                "UPDATE items SET state='ready', claimed_by=NULL, lease_until=NULL,"
                " available_at=?, last_error=? WHERE id=?",
                (time.time() + delay, reason, int(item_id)),
            )
            return True

        return await self._run(retry_sync)

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Items given up on, newest first."""

        def read() -> list[DeadLetter]:
            rows = self.conn.execute(
                "SELECT id, payload, attempts, coalesce(last_error, '') FROM items"
                " WHERE state='dead' ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
            return [DeadLetter(str(r[0]), r[1], r[2], r[3]) for r in rows]

        return await self._run(read)

    async def in_flight(self) -> int:
        """How many items are claimed and not yet done."""

        def count() -> int:
            row = self.conn.execute("SELECT count(*) FROM items WHERE state='claimed'").fetchone()
            return int(row[0])

        return await self._run(count)

    async def dead_count(self) -> int:
        """How many items were dead-lettered."""

        def count() -> int:
            row = self.conn.execute("SELECT count(*) FROM items WHERE state='dead'").fetchone()
            return int(row[0])

        return await self._run(count)

    async def pending(self) -> int:
        """How many items are ready, backing off or claimed."""

        def count() -> int:
            row = self.conn.execute(
                "SELECT count(*) FROM items WHERE state IN ('ready', 'claimed')"
            ).fetchone()
            return int(row[0])

        return await self._run(count)

    async def reserve_references_above(self, floor: int) -> None:
        """Raises the reference counter to at least ``floor``."""

        def raise_counter() -> None:
            self.conn.execute(
                "UPDATE counters SET value=max(value, ?) WHERE name='reference'", (floor,)
            )

        await self._run(raise_counter)

    async def close(self) -> None:
        """Finishes pending puts and closes the file."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._run(conn.close)
        self._executor.shutdown(wait=True)
