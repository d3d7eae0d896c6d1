"""SLA clocks in the store: started, stopped, paused and resumed inside the caller's
transaction, so a clock can never disagree with the message or reply that moved it.

Every change ends with ``refresh``, which keeps ``conversations.sla_due`` and
``sla_state`` (what queues and the dashboard sort and colour by) in step with the clocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.config.settings import Settings
from inbox.models import Priority
from inbox.sla.business_hours import ALWAYS, BusinessCalendar
from inbox.sla.policy import RESPONSES, SlaSettings, Target, TeamSla
from inbox.store.tables import conversations, sla_timers

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"


@dataclass(frozen=True)
class Schedule:
    """When a clock warns and when it is due."""

    warn_at: float
    due_at: float


def schedule(
    calendar: BusinessCalendar, start: float, allowed: float, remaining: float, warn_share: float
) -> Schedule:
    """Due after ``remaining`` business seconds from ``start``; the warning comes when
    ``warn_share`` of ``allowed`` has been used (at once if that is already past)."""
    to_warning = max(0.0, remaining - allowed * (1.0 - warn_share))
    return Schedule(calendar.add(start, to_warning), calendar.add(start, remaining))


class SlaClocks:
    """Moves conversations' SLA clocks as customers write and agents answer."""

    def __init__(self, settings: SlaSettings, teams: dict[str, TeamSla]) -> None:
        self.settings = settings
        self.teams = teams

    def _calendar(self, name: str) -> BusinessCalendar:
        return self.settings.calendars.get(name) or self.settings.calendars[ALWAYS]

    def _team(self, team: str) -> TeamSla:
        return self.teams.get(team) or TeamSla(targets=dict(self.settings.targets))

    def allowed(self, team: str, priority: Priority, target: Target) -> float | None:
        """Business seconds the team has for ``target`` at ``priority``."""
        return self._team(team).targets[priority].seconds(target)

    def due(self, team: str, priority: Priority, target: Target, start: float) -> float | None:
        """When ``target`` would be due for a clock started at ``start``."""
        allowed = self.allowed(team, priority, target)
        if allowed is None:
            return None
        return self._calendar(self._team(team).calendar).add(start, allowed)

    def business_hours_only(self, team: str) -> bool:
        """True when the team's clocks stop outside opening hours."""
        return not self._calendar(self._team(team).calendar).round_the_clock

    async def start(
        self,
        conn: AsyncConnection,
        starts: Iterable[tuple[int, str, Priority, Target, float]],
    ) -> None:
        """Starts clocks: (conversation id, team, priority, target, start time) each."""
        rows = []
        for conversation_id, team, priority, target, at in starts:
            allowed = self.allowed(team, priority, target)
            if allowed is None:
                continue
            calendar = self._team(team).calendar
            plan = schedule(self._calendar(calendar), at, allowed, allowed, self.settings.warn_at)
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "target": target.value,
                    "state": RUNNING,
                    "calendar": calendar,
                    "allowed": allowed,
                    "started_at": at,
                    "due_at": plan.due_at,
                    "warn_at": plan.warn_at,
                }
            )
        if rows:
            await conn.execute(insert(sla_timers), rows)

    async def stop(
        self, conn: AsyncConnection, conversation_id: int, targets: Iterable[Target], at: float
    ) -> None:
        """Stops the conversation's running or paused clocks for ``targets``."""
        t = sla_timers
        await conn.execute(
            update(t)
            .where(
                t.c.conversation_id == conversation_id,
                t.c.target.in_([x.value for x in targets]),
                t.c.state != STOPPED,
            )
            .values(state=STOPPED, stopped_at=at)
        )

    async def pause(self, conn: AsyncConnection, conversation_id: int, at: float) -> None:
        """Waiting on the customer: running clocks keep the business time they had left."""
        t = sla_timers
        rows = (
            await conn.execute(
                select(t.c.id, t.c.calendar, t.c.due_at).where(
                    t.c.conversation_id == conversation_id, t.c.state == RUNNING
                )
            )
        ).all()
        if rows:
            await conn.execute(
                update(t)
                .where(t.c.id == bindparam("tid"))
                .values(state=PAUSED, remaining=bindparam("left")),
                [
                    {"tid": r.id, "left": self._calendar(r.calendar).between(at, r.due_at)}
                    for r in rows
                ],
            )

    async def customer_wrote(self, conn: AsyncConnection, wrote: dict[int, float]) -> None:
        """Customer messages on existing conversations (id → time): paused clocks run
        again, and a reply owed after an agent's answer starts ``next_response``."""
        if not wrote:
            return
        t = sla_timers
        ids = list(wrote)
        writes = {
            int(r.id): (r.team, Priority(r.priority), wrote[int(r.id)])
            for r in await conn.execute(
                select(conversations.c.id, conversations.c.team, conversations.c.priority).where(
                    conversations.c.id.in_(ids)
                )
            )
        }
        paused = (
            await conn.execute(
                select(t.c.id, t.c.conversation_id, t.c.calendar, t.c.allowed, t.c.remaining).where(
                    t.c.conversation_id.in_(ids), t.c.state == PAUSED
                )
            )
        ).all()
        if paused:
            resumed = []
            for r in paused:
                at = writes[r.conversation_id][2]
                plan = schedule(
                    self._calendar(r.calendar), at, r.allowed, r.remaining, self.settings.warn_at
                )
                resumed.append({"tid": r.id, "due": plan.due_at, "warn": plan.warn_at})
            await conn.execute(
                update(t)
                .where(t.c.id == bindparam("tid"))
                .values(
                    state=RUNNING,
                    due_at=bindparam("due"),
                    warn_at=bindparam("warn"),
                    remaining=None,
                ),
                resumed,
            )
        clocks = (
            await conn.execute(
                select(t.c.conversation_id, t.c.target, t.c.state).where(
                    t.c.conversation_id.in_(ids), t.c.target.in_([x.value for x in RESPONSES])
                )
            )
        ).all()
        answered = {r.conversation_id for r in clocks if r.state == STOPPED}
        owed = {r.conversation_id for r in clocks if r.state != STOPPED}
        await self.start(
            conn,
            [
                (cid, team, priority, Target.NEXT_RESPONSE, at)
                for cid, (team, priority, at) in writes.items()
                if cid in answered and cid not in owed
            ],
        )

    async def merge(self, conn: AsyncConnection, source: int, target: int, at: float) -> None:
        """``source`` joins ``target``: each clock of ``target`` keeps the earlier due time
        of the two (and the alerts already raised for it); ``source``'s clocks stop."""
        t = sla_timers
        rows = (
            await conn.execute(
                select(t).where(t.c.conversation_id.in_([source, target]), t.c.state != STOPPED)
            )
        ).all()
        theirs = {r.target: r for r in rows if r.conversation_id == target}
        for mine in (r for r in rows if r.conversation_id == source):
            other = theirs.get(mine.target)
            if other is None:
                await conn.execute(
                    update(t).where(t.c.id == mine.id).values(conversation_id=target)
                )
            elif (
                mine.state == RUNNING == other.state
                and mine.due_at is not None
                and mine.due_at < other.due_at
            ):
                await conn.execute(
                    update(t)
                    .where(t.c.id == other.id)
                    .values(
                        started_at=mine.started_at,
                        due_at=mine.due_at,
                        warn_at=mine.warn_at,
                        warned_at=mine.warned_at,
                        breached_at=mine.breached_at,
                        escalated_at=mine.escalated_at,
                    )
                )
        await self.stop(conn, source, list(Target), at)
        await self.refresh(conn, [source, target])

    async def refresh(self, conn: AsyncConnection, conversation_ids: Iterable[int]) -> None:
        """Recomputes the conversations' ``sla_due`` and ``sla_state`` from their clocks."""
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return
        t = sla_timers
        rows = (
            await conn.execute(
                select(
                    t.c.conversation_id, t.c.state, t.c.due_at, t.c.warned_at, t.c.breached_at
                ).where(t.c.conversation_id.in_(ids), t.c.state != STOPPED)
            )
        ).all()
        by_id: dict[int, list[Any]] = {cid: [] for cid in ids}
        for r in rows:
            by_id[r.conversation_id].append(r)
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == bindparam("cid"))
            .values(sla_due=bindparam("due"), sla_state=bindparam("state")),
            [{"cid": cid, **_glance(clocks)} for cid, clocks in by_id.items()],
        )


async def clock_views(conn: AsyncConnection, conversation_id: int) -> list[dict[str, Any]]:
    """Every clock the conversation has had, oldest first, as the agent API shows them."""
    t = sla_timers
    rows = (
        await conn.execute(select(t).where(t.c.conversation_id == conversation_id).order_by(t.c.id))
    ).all()
    return [
        {
            "target": r.target,
            "state": r.state,
            "started_at": r.started_at,
            "due_at": r.due_at,
            "warn_at": r.warn_at,
            "remaining_seconds": r.remaining,
            "stopped_at": r.stopped_at,
            "warned_at": r.warned_at,
            "breached_at": r.breached_at,
            "escalated_at": r.escalated_at,
            "met": _met(r),
        }
        for r in rows
    ]


def _met(clock: Any) -> bool | None:
    """Whether a stopped clock stopped in time (a paused one by the time it had left)."""
    if clock.state != STOPPED or clock.due_at is None:
        return None
    if clock.remaining is not None:
        return bool(clock.remaining > 0)
    return bool(clock.stopped_at <= clock.due_at)


def _glance(clocks: list[Any]) -> dict[str, Any]:
    running = [c for c in clocks if c.state == RUNNING]
    if not clocks:
        return {"due": None, "state": None}
    if not running:
        return {"due": None, "state": PAUSED}
    due = min(c.due_at for c in running)
    if any(c.breached_at is not None for c in running):
        state = "breached"
    elif any(c.warned_at is not None for c in running):
        state = "warning"
    else:
        state = "ok"
    return {"due": due, "state": state}


def clocks_for(settings: Settings) -> SlaClocks:
    """The clocks as ``settings`` configure them, the fallback team's included."""
    return SlaClocks(settings.sla, {team.name: team.sla for team in settings.all_teams})
