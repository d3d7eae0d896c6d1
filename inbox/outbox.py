"""The outbox sender: delivers answers through the originating connector.

Each outbox row is leased before it is sent and marked sent right after, so a row is
sent once; a crash between the send and the mark can repeat it, which is why connectors
key deliveries by the outbox id where the channel allows (an email Message-ID, say).
Rows to one recipient go out in order: a row waits while an earlier one to the same
address is unsent, and a long answer sent in parts resumes after its last delivered part.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from connectors.base import Connector
from inbox.config import OutboxSettings
from inbox.errors import DeliveryError, PermanentError, RateLimited, TransientError
from inbox.metrics import Metrics
from inbox.models import Outbound
from inbox.store.outbox_rows import OutboxRows
from inbox.waiting import nap

log = logging.getLogger(__name__)
SENT_TOTAL = ("inbox_outbox_sent_total", "counter", "Answers and alerts sent.")
FAILED_TOTAL = ("inbox_outbox_failed_total", "counter", "Answers and alerts given up on.")


class OutboxSender:
    """Sends due outbox rows, retrying with back-off; wakes at once when told."""

    def __init__(
        self,
        rows: OutboxRows,
        connectors: Mapping[str, Connector],
        settings: OutboxSettings,
        wake: asyncio.Event,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.metrics.declare(*SENT_TOTAL)
        self.metrics.declare(*FAILED_TOTAL)
        self.rows = rows
        self.connectors = connectors
        self.settings = settings
        self.wake = wake

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Sends until ``stopping`` is set, always finishing the pass in hand."""
        stopping = stopping or asyncio.Event()
        while not stopping.is_set():
            self.wake.clear()
            try:
                sent = await self.send_due()
            except Exception:
                log.exception("outbox pass failed; trying again shortly")
                sent = 0
            if sent == 0:
                await nap(self.wake, stopping, self.settings.poll_interval)

    async def send_due(self, limit: int = 200) -> int:
        """One pass over due rows; returns how many were handled."""
        # Only what this process can deliver: web channels belong to the web role (the
        # chat's sockets are there), the others to the sender role.
        due = await self.rows.claim_due(limit, self.settings.lease_seconds, list(self.connectors))
        delivered: list[tuple[int, str]] = []
        try:
            for outbound in due:
                external_id = await self._deliver(outbound)
                if external_id is not None:
                    delivered.append((outbound.outbox_id, external_id))
        finally:
            # One transaction records the whole pass; rows stay leased until then, so a
            # crash in between repeats only this pass (connectors key sends by outbox id).
            await self.rows.mark_sent(delivered)
            if delivered:
                self.metrics.count(SENT_TOTAL[0], len(delivered))
        return len(due)

    async def _deliver(self, outbound: Outbound) -> str | None:
        connector = self.connectors.get(outbound.channel)
        try:
            if connector is None:
                raise TransientError(f"no connector is running for channel {outbound.channel!r}")
            external_id = await asyncio.wait_for(
                connector.send(outbound), timeout=self.settings.lease_seconds * 0.8
            )
        except PermanentError as err:
            log.warning("outbox %s failed for good: %s", outbound.outbox_id, err)
            await self.rows.mark_failed(outbound.outbox_id, str(err))
            self.metrics.count(FAILED_TOTAL[0])
        except (TransientError, TimeoutError, OSError) as err:
            await self._later(outbound, err)
        except Exception as err:  # a connector bug must not stop every other delivery
            log.exception(
                "outbox %s: unexpected error from %s", outbound.outbox_id, outbound.channel
            )
            await self._later(outbound, err)
        else:
            return external_id
        return None

    async def _later(self, outbound: Outbound, err: BaseException) -> None:
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        attempts = await self.rows.attempts(outbound.outbox_id)
        if attempts >= self.settings.max_attempts:
            await self.rows.mark_failed(
                outbound.outbox_id, f"gave up after {attempts} tries: {reason}"
            )
            self.metrics.count(FAILED_TOTAL[0])
            return
        if isinstance(err, RateLimited):
            delay = err.retry_after
        else:
            backoff = self.settings.retry_backoff * 2 ** (attempts - 1)
            delay = min(backoff, self.settings.retry_backoff_max)
        log.info("outbox %s: retry in %.1fs (%s)", outbound.outbox_id, delay, reason)
        progress = err.parts_sent if isinstance(err, DeliveryError) else 0
        await self.rows.mark_retry(
            outbound.outbox_id,
            reason,
            delay,
            parts_sent=progress if progress > outbound.parts_sent else None,
        )
