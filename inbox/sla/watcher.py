"""The SLA watcher: raises warnings, breaches and escalations as clocks pass their marks.

Each mark is claimed with a conditional UPDATE (``... WHERE warned_at IS NULL``) in the
same transaction as its audit event, so any number of watchers (one per ``inbox serve``,
or several at scale) raise each alert exactly once. The watcher sleeps until the next
mark it knows of, or until told that clocks changed, and looks at the store at least
every ``check_interval`` seconds for clocks other processes started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.bot_words import BotState
from inbox.sla.policy import TeamSla
from inbox.store.engine import now
from inbox.store.sla_clocks import RUNNING, SlaClocks
from inbox.store.tables import conversations, sla_timers
from inbox.store.writes import queue_outbound, record_event
from inbox.text import single_line
from inbox.waiting import nap

log = logging.getLogger(__name__)
CLAIM_BATCH = 200  # SLA clocks claimed and raised per transaction
BATCH_GAP = 0.2  # seconds between such transactions while many are due


@dataclass(frozen=True)
class AlertRecipients:
    """Where alerts go besides the live dashboard: (channel, address) pairs, which kinds,
    and the web app's address for the link in the message."""

    to: tuple[tuple[str, str], ...] = ()
    kinds: tuple[str, ...] = ()
    public_url: str = ""


WORDS = {
    "sla_warning": "SLA warning",
    "sla_breached": "SLA breached",
    "sla_escalated": "SLA escalated",
}


@dataclass(frozen=True)
class SlaAlert:
    """One warning, breach or escalation, as supervisors are told of it."""

    kind: str  # sla_warning | sla_breached | sla_escalated
    conversation_id: int
    reference: int
    team: str
    target: str
    due_at: float
    at: float

    def to_json(self) -> dict[str, Any]:
        """JSON for the live dashboard and the alert channels."""
        return {
            "kind": self.kind,
            "ticket": f"#{self.reference}",
            "reference": self.reference,
            "team": self.team,
            "target": self.target,
            "due_at": self.due_at,
            "at": self.at,
        }


class SlaWatcher:
    """Finds the clocks that passed a mark and raises the alert once."""

    def __init__(
        self,
        engine: AsyncEngine,
        clocks: SlaClocks,
        *,
        clock: Callable[[], float] = now,
        on_alert: Callable[[list[SlaAlert]], None] | None = None,
        recipients: AlertRecipients | None = None,
    ) -> None:
        self.recipients = recipients or AlertRecipients()
        self.engine = engine
        self.clocks = clocks
        self.settings = clocks.settings
        self.teams = clocks.teams
        self.clock = clock
        self.on_alert = on_alert
        self.wake = asyncio.Event()

    async def check(self) -> list[SlaAlert]:
        """Raises every alert due by now; returns them in the order they were raised."""
        at = self.clock()
        escalate_before = at - self.settings.escalate_after_minutes * 60
        t = sla_timers
        marks = (
            ("sla_warning", t.c.warned_at, t.c.warn_at <= at),
            ("sla_breached", t.c.breached_at, t.c.due_at <= at),
            ("sla_escalated", t.c.escalated_at, t.c.due_at <= escalate_before),
        )
        alerts: list[SlaAlert] = []
        for kind, column, passed in marks:
            # In transactions of at most CLAIM_BATCH clocks: after a long outage thousands
            # are due at once, and one transaction for all would keep every writer waiting.
            while True:
                batch = await self._claim(kind, column, passed, at)
                alerts += batch
                if len(batch) < CLAIM_BATCH:
                    break
                # Between batches, the other writers of this store get their turn (a
                # waiting SQLite writer polls; without a gap this loop would starve it).
                await asyncio.sleep(BATCH_GAP)
        for alert in alerts:
            log.warning(
                "SLA %s: ticket #%s (%s), %s due %.0f",
                alert.kind.removeprefix("sla_"),
                alert.reference,
                alert.team,
                alert.target,
                alert.due_at,
            )
        if alerts and self.on_alert is not None:
            self.on_alert(alerts)
        return alerts

    async def _claim(
        self, kind: str, column: Any, passed: ColumnElement[bool], at: float
    ) -> list[SlaAlert]:
        """Claims and raises up to CLAIM_BATCH alerts of one kind, in one transaction."""
        t = sla_timers
        due = (
            select(t.c.id)
            .where(_running(), column.is_(None), passed)
            .order_by(t.c.due_at, t.c.id)
            .limit(CLAIM_BATCH)
        )
        async with self.engine.begin() as conn:
            claimed = (
                await conn.execute(
                    update(t)
                    .where(t.c.id.in_(due.scalar_subquery()), column.is_(None))
                    .values({column.key: at})
                    .returning(t.c.conversation_id, t.c.target, t.c.due_at)
                )
            ).all()
            alerts = [
                await self._alert(conn, kind, row, at)
                for row in sorted(claimed, key=lambda r: (r.due_at, r.conversation_id))
            ]
            await self.clocks.refresh(conn, [a.conversation_id for a in alerts])
        return alerts

    async def _alert(self, conn: AsyncConnection, kind: str, row: Any, at: float) -> SlaAlert:
        conv = (
            await conn.execute(
                select(
                    conversations.c.reference, conversations.c.team, conversations.c.subject
                ).where(conversations.c.id == row.conversation_id)
            )
        ).one()
        team = conv.team
        data: dict[str, Any] = {"target": row.target, "due_at": row.due_at}
        if kind == "sla_escalated":
            to = (self.teams.get(team) or TeamSla()).escalate_to
            if to and to != team:
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == row.conversation_id)
                    .values(team=to, assignee_id=None, updated_at=at)
                )
                await record_event(
                    conn, row.conversation_id, "reassigned", "sla", {"from": team, "to": to}
                )
                data["moved_to"] = to
                team = to
        await record_event(conn, row.conversation_id, kind, "sla", data)
        if kind in self.recipients.kinds:
            await self._send(conn, kind, row, int(conv.reference), team, str(conv.subject))
        return SlaAlert(
            kind, row.conversation_id, int(conv.reference), team, row.target, row.due_at, at
        )

    async def _send(
        self, conn: AsyncConnection, kind: str, row: Any, reference: int, team: str, subject: str
    ) -> None:
        """Queues the alert to every recipient through the outbox (retried, sent once),
        as internal messages of the conversation: its trail shows who was told."""
        due = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row.due_at))
        target = str(row.target).replace("_", " ")
        text = (
            f"{WORDS[kind]}: ticket #{reference} ({team}), {target} due {due}.\n"
            f"Subject: {single_line(subject)[:200]}\n"
            f"Open it: {self.recipients.public_url}/agent#{reference}"
        )
        for channel, address in self.recipients.to:
            await queue_outbound(
                conn,
                conversation_id=row.conversation_id,
                channel=channel,
                address=address,
                text=text,
                author="alert",
                kind="alert",
                subject=f"{WORDS[kind]}: #{reference} {single_line(subject)[:120]}",
                internal=True,
            )

    async def next_mark(self) -> float | None:
        """The earliest moment a running clock passes a mark not yet raised."""
        t = sla_timers
        running = _running()
        escalate = self.settings.escalate_after_minutes * 60
        async with self.engine.connect() as conn:
            found = [
                await conn.scalar(
                    select(func.min(t.c.warn_at)).where(running, t.c.warned_at.is_(None))
                ),
                await conn.scalar(
                    select(func.min(t.c.due_at)).where(running, t.c.breached_at.is_(None))
                ),
                await conn.scalar(
                    select(func.min(t.c.due_at)).where(running, t.c.escalated_at.is_(None))
                ),
            ]
        marks = [float(m) for m in found[:2] if m is not None]
        if found[2] is not None:
            marks.append(float(found[2]) + escalate)
        return min(marks) if marks else None

    async def run(self, stopping: asyncio.Event) -> None:
        """Checks until ``stopping``; sleeps until the next mark, a wake-up or the interval.

        A wake-up only reads when the next mark is; the write transaction runs when a mark
        has passed, so waking the watcher after every worker batch costs little."""
        while not stopping.is_set():
            timeout = self.settings.check_interval
            try:
                mark = await self.next_mark()
                if mark is not None and mark <= self.clock():
                    await self.check()
                    mark = await self.next_mark()
                if mark is not None:
                    timeout = min(timeout, max(0.0, mark - self.clock()) + 0.01)
            except Exception:
                log.exception("SLA check failed; trying again shortly")
            await nap(self.wake, stopping, timeout)


def _running() -> ColumnElement[bool]:
    """The clocks that can raise an alert: running, and not in a conversation the bot
    holds (no agent can see it yet). Those run all the same, so a conversation the bot
    hands off is due from the customer's first message."""
    bot_held = select(conversations.c.id).where(conversations.c.bot_state == BotState.HOLDING.value)
    return and_(sla_timers.c.state == RUNNING, sla_timers.c.conversation_id.not_in(bot_held))
