"""Supervisors hear of every unanswered contact, once, as they hear of SLA breaches.

Every ``CHECK_EVERY`` seconds the watcher reads the answer ledger; each contact newly
unanswered is claimed in ``ledger_alerts`` (its key is the primary key, taken under one
lock, so any number of watchers raise it once), recorded as an ``unanswered`` event on its
conversation (the dashboard's recent alerts, the audit trail), published to the live
dashboards of its team, and sent to the ``[alerts]`` recipients when their kinds include
``"unanswered"``. A contact answered later leaves the ledger's list by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.config.settings import LedgerSettings
from inbox.queue import Queue
from inbox.sla.watcher import AlertRecipients
from inbox.store.engine import now
from inbox.store.ledger import DEAD_LETTERS_READ, LedgerEntry, ledger_report
from inbox.store.locks import serialize
from inbox.store.outbound import OutboundDraft, queue_drafts
from inbox.store.tables import ledger_alerts, messages
from inbox.store.writes import record_event
from inbox.waiting import nap

log = logging.getLogger(__name__)
CHECK_EVERY = 60.0
CLAIM_BATCH = 200  # contacts claimed and raised per transaction
BATCH_GAP = 0.2  # seconds between such transactions
KIND = "unanswered"


class UnansweredWatcher:
    """Raises each unanswered contact to supervisors once."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue: Queue | None,
        settings: LedgerSettings,
        *,
        recipients: AlertRecipients | None = None,
        clock: Callable[[], float] = now,
        on_alert: Callable[[list[LedgerEntry]], None] | None = None,
    ) -> None:
        self.engine, self.queue, self.settings = engine, queue, settings
        self.recipients = recipients or AlertRecipients()
        self.clock = clock
        self.on_alert = on_alert

    async def check(self) -> list[LedgerEntry]:
        """Raises the contacts unanswered now and not raised before; returns them."""
        dead = await self.queue.dead_letters(DEAD_LETTERS_READ) if self.queue else []
        report = await ledger_report(self.engine, self.settings, dead, self.clock())
        if not report.unanswered:
            return []
        fresh: list[LedgerEntry] = []
        unanswered = report.unanswered
        # A few hundred per transaction, with a gap: thousands at once (after an outage)
        # in one transaction would keep every other writer waiting.
        for start in range(0, len(unanswered), CLAIM_BATCH):
            if start:
                await asyncio.sleep(BATCH_GAP)
            async with self.engine.begin() as conn:
                await serialize(conn, "ledger-alerts")
                claimed = await _claim(conn, unanswered[start : start + CLAIM_BATCH], self.clock())
                for entry in claimed:
                    await self._alert(conn, entry)
            fresh += claimed
        for entry in fresh:
            log.warning(
                "unanswered: %s %s from %s on %s (%s, %s) %s",
                entry.source,
                f"#{entry.reference}" if entry.reference else entry.source_id,
                entry.address,
                entry.channel,
                entry.state.value,
                entry.delivery.value,
                entry.detail,
            )
        if fresh and self.on_alert is not None:
            self.on_alert(fresh)
        return fresh

    async def _alert(self, conn: AsyncConnection, entry: LedgerEntry) -> None:
        conversation_id = await _conversation_of(conn, entry)
        if conversation_id is not None:
            data = {
                "source": entry.source,
                "source_id": entry.source_id,
                "error": f"{entry.state.value}, {entry.delivery.value}: {entry.detail}"[:500],
            }
            await record_event(conn, conversation_id, KIND, "ledger", data)
        if KIND not in self.recipients.kinds or not self.recipients.to:
            return
        text, subject = _alert_text(entry, self.recipients.public_url)
        drafts = [
            OutboundDraft(
                channel,
                address,
                text,
                "alert",
                conversation_id,
                author="alert",
                subject=subject,
                internal=conversation_id is not None,
                stored=conversation_id is not None,
            )
            for channel, address in self.recipients.to
        ]
        await queue_drafts(conn, drafts, now())

    async def run(self, stopping: asyncio.Event) -> None:
        """Checks every ``CHECK_EVERY`` seconds until ``stopping``."""
        wake = asyncio.Event()
        while not stopping.is_set():
            try:
                await self.check()
            except Exception:
                log.exception("unanswered contacts: check failed; trying again shortly")
            await nap(wake, stopping, CHECK_EVERY)


async def _claim(
    conn: AsyncConnection, entries: Sequence[LedgerEntry], stamp: float
) -> list[LedgerEntry]:
    """The entries not raised before, now marked raised (under the caller's lock)."""
    keys = [(e.source, e.source_id) for e in entries]
    raised: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found = await conn.execute(
            select(ledger_alerts.c.source, ledger_alerts.c.source_id).where(
                tuple_(ledger_alerts.c.source, ledger_alerts.c.source_id).in_(chunk)
            )
        )
        raised.update((r.source, r.source_id) for r in found)
    fresh = [e for e in entries if (e.source, e.source_id) not in raised]
    if fresh:
        rows = [{"source": e.source, "source_id": e.source_id, "raised_at": stamp} for e in fresh]
        await conn.execute(insert(ledger_alerts), rows)
    return fresh


async def _conversation_of(conn: AsyncConnection, entry: LedgerEntry) -> int | None:
    """The conversation a message entry belongs to (other contacts have none)."""
    if entry.source != "message":
        return None
    found = await conn.scalar(
        select(messages.c.conversation_id).where(messages.c.id == int(entry.source_id))
    )
    return int(found) if found is not None else None


def unanswered_json(entry: LedgerEntry) -> dict[str, object]:
    """The alert for the live dashboard (shaped as an SLA alert, which the page lists)."""
    return {
        "kind": KIND,
        "ticket": f"#{entry.reference}" if entry.reference else entry.source,
        "reference": entry.reference,
        "team": entry.team,
        "target": f"{entry.state.value}, {entry.delivery.value}",
    }


def _alert_text(entry: LedgerEntry, public_url: str) -> tuple[str, str]:
    """The alert's text and subject for the recipients."""
    what = f"ticket #{entry.reference}" if entry.reference else f"{entry.source} {entry.source_id}"
    link = (
        f"{public_url}/agent#{entry.reference}"
        if entry.source == "message"
        else f"{public_url}/supervisor"
    )
    text = (
        f"Unanswered: {what} from {entry.address} on {entry.channel} "
        f"({entry.state.value}; delivery {entry.delivery.value}).\n"
        + (f"Why: {entry.detail[:300]}\n" if entry.detail else "")
        + f"Open it: {link}"
    )
    return text, f"Unanswered: {what}"
