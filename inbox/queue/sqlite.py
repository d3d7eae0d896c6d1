"""The embedded queue: one SQLite file, write-ahead log, group commit.

Every ``put`` joins the next group commit: one transaction (synchronous=FULL, so it is on
disk, not just in the page cache) covers every put waiting at that moment, so durability
costs one fsync per group rather than one per message. A group that fails is put again
one by one, so a put that cannot be stored fails alone. All SQLite work runs on one thread
of its own so the event loop never blocks.

An acknowledged item keeps only its identity and reference (so a message put again is
still known, as Redis keeps its "seen" key) for ``dedup_seconds`` after its put; its
payload goes at once. Freed pages go back to the file system (incremental auto-vacuum,
a bounded write-ahead log), so the file holds what is unfinished, not what ever passed.
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

from inbox.config.settings import QueueSettings
from inbox.models import DeadLetter, Envelope, QueueItem, Receipt
from inbox.queue.base import DEDUP_SECONDS, FIRST_REFERENCE, abandoned, queue_record

T = TypeVar("T")
WAL_LIMIT_BYTES = 8 * 1024 * 1024  # the write-ahead log is cut back to this after a checkpoint
VACUUM_MIN_PAGES = 256  # free pages kept for reuse before the file is shrunk

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
CREATE INDEX IF NOT EXISTS items_done ON items (state, created_at);
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

    def __init__(self, settings: QueueSettings, *, dedup_seconds: int = DEDUP_SECONDS) -> None:
        self.settings = settings
        self.dedup_seconds = dedup_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[_PendingPut] = []
        self._flusher: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._released: asyncio.Task[None] | None = None

    async def open(self) -> SqliteQueue:
        """Opens (and creates) the queue file."""
        await self._run(self._open_sync)
        return self

    def _open_sync(self) -> None:
        path: Path = self.settings.path
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO counters (name, value) VALUES ('reference', ?)",
            (FIRST_REFERENCE - 1,),
        )
        # A file from before done items were compacted: drop their payloads, then rewrite
        # it once so that it can shrink from now on.
        conn.execute("UPDATE items SET payload='' WHERE state='done' AND payload != ''")
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            conn.execute("VACUUM")
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
            except Exception as err:
                # One bad put must not fail the others: each is put again on its own. A
                # failure of the file itself (locked, full) would only come back each time.
                if len(group) == 1 or isinstance(err, sqlite3.OperationalError):
                    for pending in group:
                        _settle(pending, err)
                    continue
                for pending in group:
                    await self._put_alone(pending)
                continue
            for pending, receipts in zip(group, results, strict=True):
                _settle(pending, receipts)

    async def _put_alone(self, pending: _PendingPut) -> None:
        try:
            (receipts,) = await self._run(functools.partial(self._put_sync, [pending]))
        except Exception as err:  # the waiter learns why its put failed
            _settle(pending, err)
            return
        _settle(pending, receipts)

    def _put_sync(self, group: list[_PendingPut]) -> list[list[Receipt]]:
        conn = self.conn
        now = time.time()
        results: list[list[Receipt]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for pending in group:
                receipts: list[Receipt] = []
                for env in pending.envelopes:
                    record = queue_record(env)
                    row = conn.execute(
                        "SELECT reference FROM items WHERE channel=? AND external_id=?",
                        (record.channel, record.external_id),
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
                        (record.channel, record.external_id, record.payload, reference, now, now),
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
        await self._release_abandoned()
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

    async def _release_abandoned(self) -> None:
        """Before this process's first claim: what a dead process on this host (or this
        process's previous life) held is handed out at once, not after its lease."""
        if self._released is None:
            self._released = asyncio.create_task(self._run(self._release_sync))
        try:
            await asyncio.shield(self._released)
        except Exception:
            self._released = None  # the next claim tries again
            raise

    def _release_sync(self) -> None:
        conn = self.conn
        holders = conn.execute(
            "SELECT claimed_by, max(lease_until) FROM items WHERE state='claimed'"
            " GROUP BY claimed_by"
        ).fetchall()
        lease = self.settings.visibility_timeout
        gone = [name for name, until in holders if name and abandoned(name, until - lease)]
        if gone:
            marks = ",".join("?" * len(gone))
            conn.execute(
                f"UPDATE items SET lease_until=0 WHERE state='claimed'"  # noqa: S608
                f" AND claimed_by IN ({marks})",
                gone,
            )

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
        """Marks items done and drops their payloads; forgets done items past the
        duplicate window; gives the freed space back once there is enough of it."""
        if not item_ids:
            return
        ids = [int(item_id) for item_id in item_ids]

        def ack_sync() -> None:
            marks = ",".join("?" * len(ids))
            self.conn.execute(
                f"UPDATE items SET state='done', payload='', claimed_by=NULL,"  # noqa: S608
                f" lease_until=NULL, last_error=NULL WHERE id IN ({marks})",
                ids,
            )
            self.conn.execute(
                "DELETE FROM items WHERE state='done' AND created_at < ?",
                (time.time() - self.dedup_seconds,),
            )
            self._shrink_sync()

        await self._run(ack_sync)

    def _shrink_sync(self) -> None:
        """Returns free pages to the file system once they are over a quarter of the file:
        fewer would be reused by the next puts anyway."""
        (free,) = self.conn.execute("PRAGMA freelist_count").fetchone()
        (total,) = self.conn.execute("PRAGMA page_count").fetchone()
        if free > max(VACUUM_MIN_PAGES, total // 4):
            self.conn.execute("PRAGMA incremental_vacuum").fetchall()

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

    async def requeue_dead(self, item_id: str) -> bool:
        """Puts a dead letter back, ready at once, with its tries counted afresh."""
        if not item_id.isdigit():
            return False

        def requeue() -> bool:
            done = self.conn.execute(
                "UPDATE items SET state='ready', attempts=0, available_at=?, claimed_by=NULL,"
                " lease_until=NULL WHERE id=? AND state='dead'",
                (time.time(), int(item_id)),
            )
            return done.rowcount == 1

        return await self._run(requeue)

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


def _settle(pending: _PendingPut, outcome: list[Receipt] | Exception) -> None:
    """Hands a put its receipts, or the error that failed it."""
    if pending.future.done():
        return
    if isinstance(outcome, Exception):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)
