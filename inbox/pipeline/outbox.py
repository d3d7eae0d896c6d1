"""The outbox sender: delivers answers through the originating connector.

Each outbox row is leased before it is sent and marked sent, in a commit of its own, right
after, so a row is sent once; a crash between the send and the mark can repeat that one
send, which is why connectors key deliveries by the outbox id where the channel allows (an
email Message-ID, say). Channels where a repeat is harmless (the web form, the chat) share
one commit per pass instead. A temporary failure is retried with capped back-off for
``give_up_after_hours``; only a permanent refusal fails a row at once.
Rows to one recipient go out in order: a row waits while an earlier one to the same
address is unsent, and a long answer sent in parts resumes after its last delivered part.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping

from connectors.base import Connector
from inbox.config.settings import OutboxSettings
from inbox.errors import DeliveryError, PermanentError, RateLimited, TransientError
from inbox.metrics import Metrics
from inbox.models import Outbound
from inbox.store.outbox_rows import OutboxRows, RetryState
from inbox.waiting import nap

log = logging.getLogger(__name__)
SENT_TOTAL = ("inbox_outbox_sent_total", "counter", "Answers and alerts sent.")
FAILED_TOTAL = ("inbox_outbox_failed_total", "counter", "Answers and alerts given up on.")
RETRIED_TOTAL = (
    "inbox_outbox_retried_total",
    "counter",
    "Temporary delivery failures, each tried again later.",
)
DELAYED_TOTAL = (
    "inbox_outbox_delayed_total",
    "counter",
    "Answers still failing after [outbox] alert_after_minutes (supervisors were told).",
)
# A send starts only within this first share of the pass's lease: it may take 0.8 of it.
LEASE_SHARE_TO_START = 0.2


class OutboxSender:
    """Sends due outbox rows, retrying with back-off; wakes at once when told."""

    def __init__(
        self,
        rows: OutboxRows,
        connectors: Mapping[str, Connector],
        settings: OutboxSettings,
        wake: asyncio.Event,
        metrics: Metrics | None = None,
        repeat_safe: Collection[str] = (),
    ) -> None:
        """``repeat_safe`` names channels where a repeated send is harmless (the web form
        only points at the store; the chat client ignores an id it shows): their
        deliveries are recorded together at the end of a pass, saving a commit each."""
        self.metrics = metrics or Metrics()
        self.metrics.declare(*SENT_TOTAL)
        self.metrics.declare(*FAILED_TOTAL)
        self.metrics.declare(*RETRIED_TOTAL)
        self.metrics.declare(*DELAYED_TOTAL)
        self.rows = rows
        self.connectors = connectors
        self.settings = settings
        self.wake = wake
        self.repeat_safe = frozenset(repeat_safe)

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
        claimed = time.monotonic()
        batched: list[tuple[int, str]] = []
        try:
            for index, outbound in enumerate(due):
                if time.monotonic() - claimed > self.settings.lease_seconds * LEASE_SHARE_TO_START:
                    # Too little lease left for one more send (each may take 0.8 of it):
                    # the rest goes back, rather than to a second sender while this one
                    # sends it.
                    await self.rows.release([o.outbox_id for o in due[index:]])
                    return index
                external_id = await self._deliver(outbound)
                if external_id is None:
                    continue
                if outbound.channel in self.repeat_safe:
                    batched.append((outbound.outbox_id, external_id))
                    continue
                # Its own commit, before the next send: a crash repeats at most the one
                # send in flight (connectors key sends by outbox id where they can).
                await self.rows.mark_sent([(outbound.outbox_id, external_id)])
                self.metrics.count(SENT_TOTAL[0])
        finally:
            await self.rows.mark_sent(batched)
            if batched:
                self.metrics.count(SENT_TOTAL[0], len(batched))
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
            log.warning("outbox %s refused for good: %s", outbound.outbox_id, err)
            await self.rows.mark_failed(outbound.outbox_id, str(err), _progress(outbound, err))
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
        """A temporary failure: try again after a capped back-off (or the wait the channel
        asked for, which is not a try), tell supervisors once it has failed for
        ``alert_after_minutes``, and give up only after ``give_up_after_hours``."""
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        row_id = outbound.outbox_id
        state = await self.rows.retry_state(row_id)
        if state.age >= self.settings.give_up_after_hours * 3600:
            await self._give_up(outbound, reason, state, _progress(outbound, err))
            return
        self.metrics.count(RETRIED_TOTAL[0])
        rate_limited = isinstance(err, RateLimited)
        delay = err.retry_after if isinstance(err, RateLimited) else self._backoff(state)
        log.info(
            "outbox %s to %s: failed (try %d, %.0f s since queued), retry in %.1f s: %s",
            row_id,
            outbound.channel,
            state.attempts,
            state.age,
            delay,
            reason,
        )
        if state.age >= self.settings.alert_after_minutes * 60 and not state.alerted:
            await self._raise_delay(outbound, reason, state)
        await self.rows.mark_retry(
            row_id, reason, delay, parts_sent=_progress(outbound, err), counted=not rate_limited
        )

    async def _give_up(
        self, outbound: Outbound, reason: str, state: RetryState, parts_sent: int | None
    ) -> None:
        hours = state.age / 3600
        log.error(
            "outbox %s to %s %s: gave up after %.1f h and %d tries: %s",
            outbound.outbox_id,
            outbound.channel,
            outbound.address,
            hours,
            state.attempts,
            reason,
        )
        await self.rows.mark_failed(
            outbound.outbox_id,
            f"gave up after {hours:.1f} h and {state.attempts} tries: {reason}",
            parts_sent,
        )
        self.metrics.count(FAILED_TOTAL[0])

    def _backoff(self, state: RetryState) -> float:
        exponent = min(max(state.attempts - 1, 0), 30)  # 2**30 s is past any cap
        return float(
            min(self.settings.retry_backoff * 2**exponent, self.settings.retry_backoff_max)
        )

    async def _raise_delay(self, outbound: Outbound, reason: str, state: RetryState) -> None:
        """Tells supervisors, once per row: a log warning, a metric, and a note on the
        conversation that the supervisor dashboard lists with its alerts."""
        if not await self.rows.mark_delayed(outbound.outbox_id, reason, state.age):
            return
        self.metrics.count(DELAYED_TOTAL[0])
        log.warning(
            "outbox %s to %s %s: still not delivered after %.1f minutes (%d tries); "
            "retrying for up to %g hours: %s",
            outbound.outbox_id,
            outbound.channel,
            outbound.address,
            state.age / 60,
            state.attempts,
            self.settings.give_up_after_hours,
            reason,
        )


def _progress(outbound: Outbound, err: BaseException) -> int | None:
    """The parts (of a text, and files) the failed try delivered beyond those before it:
    the row's new ``parts_sent``, or None when it got no further."""
    progress = err.parts_sent if isinstance(err, DeliveryError) else 0
    return progress if progress > outbound.parts_sent else None
