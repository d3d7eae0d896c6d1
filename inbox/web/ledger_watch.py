"""The answer ledger as this process last read it, for the dashboard and ``/metrics``.

The ledger reads the whole look-back (``[ledger] days``), so a process reads it at most
once every ``READ_EVERY`` seconds however often pages are rendered or metrics scraped.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import LedgerSettings
from inbox.queue import Queue
from inbox.store.ledger import DEAD_LETTERS_READ, LedgerReport, ledger_report

READ_EVERY = 15.0


class LedgerWatch:
    """Reads the ledger (with the queue's dead letters) and keeps it ``READ_EVERY`` s."""

    def __init__(self, engine: AsyncEngine, queue: Queue | None, settings: LedgerSettings) -> None:
        self.engine, self.queue, self.settings = engine, queue, settings
        self._report: LedgerReport | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def report(self) -> LedgerReport:
        """The ledger, read again if the last reading is older than ``READ_EVERY``."""
        async with self._lock:
            if self._report is None or time.monotonic() - self._read_at >= READ_EVERY:
                dead = []
                if self.queue is not None:
                    dead = await self.queue.dead_letters(DEAD_LETTERS_READ)
                self._report = await ledger_report(self.engine, self.settings, dead, time.time())
                self._read_at = time.monotonic()
            return self._report

    async def unanswered(self) -> float:
        """How many contacts are unanswered (the ``/metrics`` gauge)."""
        return float(len((await self.report()).unanswered))
