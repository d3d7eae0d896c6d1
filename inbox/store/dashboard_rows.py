"""What a supervisor's dashboard shows, for the teams they supervise: queue depth, the
oldest waiting, conversations at risk and breached, agent load, recent SLA alerts, and
the bot over the chosen period (its figures, and the questions it could not answer).

A handful of grouped queries over indexed columns, whatever the number of conversations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.bot_words import BotState
from inbox.models import Priority, Status
from inbox.store.accounts import Agent
from inbox.store.bot_figures import BotFigures, bot_figures
from inbox.store.engine import reading
from inbox.store.kb_gaps import GapGroup, kb_gaps
from inbox.store.tables import agent_teams, agents, conversations, csat_ratings, events

WAITING = (Status.NEW.value, Status.OPEN.value)  # waiting on an agent
OPEN = (*WAITING, Status.PENDING.value)
AT_RISK_ROWS = 50
ALERT_ROWS = 30
# SLA alerts, answers that keep failing to reach the customer (or were given up on), and
# contacts left unanswered (inbox.sla.unanswered).
ALERT_KINDS = (
    "sla_warning",
    "sla_breached",
    "sla_escalated",
    "delivery_delayed",
    "delivery_failed",
    "unanswered",
)
CSAT_DAYS = 30
PERIODS = (7, 30, 90)  # the days a supervisor may look back over for the bot


@dataclass(frozen=True)
class TeamLine:
    """One team's queue."""

    team: str
    waiting: int
    pending: int
    unassigned: int
    at_risk: int
    breached: int
    oldest_waiting: float | None
    with_bot: int = 0  # answered by the bot, waiting for the customer's verdict


@dataclass(frozen=True)
class Dashboard:
    """Everything on the page."""

    teams: list[TeamLine]
    risky: list[dict[str, Any]]
    load: list[tuple[str, int]]
    alerts: list[dict[str, Any]]
    totals: dict[str, int] = field(default_factory=dict)
    csat: list[dict[str, Any]] = field(default_factory=list)
    bot: BotPart | None = None


@dataclass(frozen=True)
class BotPart:
    """The bot over the last ``days``: its figures, and the questions it could not answer."""

    days: int
    figures: BotFigures
    gaps: list[GapGroup]


async def dashboard(engine: AsyncEngine, supervisor: Agent, days: int = CSAT_DAYS) -> Dashboard:
    """The dashboard of ``supervisor``'s teams, the bot's part over the last ``days``."""
    teams = list(supervisor.teams)
    async with reading(engine) as conn:
        csat = await _csat(conn, teams)
        lines = await _team_lines(conn, teams)
        risky = await _at_risk(conn, teams)
        load = await _agent_load(conn, teams)
        alerts = await _alerts(conn, teams)
        bot = await _bot_part(conn, teams, days)
    totals = {
        key: sum(getattr(line, key) for line in lines)
        for key in ("waiting", "pending", "unassigned", "at_risk", "breached", "with_bot")
    }
    return Dashboard(
        teams=lines,
        risky=risky,
        load=load,
        alerts=alerts,
        totals=totals,
        csat=csat,
        bot=bot,
    )


async def bot_report(engine: AsyncEngine, supervisor: Agent, days: int) -> BotPart:
    """The bot's part of ``supervisor``'s dashboard alone (for the exports)."""
    async with reading(engine) as conn:
        return await _bot_part(conn, list(supervisor.teams), days)


async def _bot_part(conn: AsyncConnection, teams: list[str], days: int) -> BotPart:
    since = time.time() - days * 86400
    return BotPart(days, await bot_figures(conn, teams, since), await kb_gaps(conn, teams, since))


async def _team_lines(conn: AsyncConnection, teams: list[str]) -> list[TeamLine]:
    """Each team's queue, in the order of ``teams`` (a team with nothing open: zeros)."""
    c = conversations
    # A conversation the bot holds waits on the customer's verdict, in nobody's queue yet.
    held = c.c.bot_state == BotState.HOLDING.value
    waiting = and_(c.c.status.in_(WAITING), ~held)
    counts = (
        select(
            c.c.team,
            func.sum(case((waiting, 1), else_=0)).label("waiting"),
            func.sum(case((c.c.status == Status.PENDING.value, 1), else_=0)).label("pending"),
            func.sum(case((and_(waiting, c.c.assignee_id.is_(None)), 1), else_=0)).label(
                "unassigned"
            ),
            func.sum(case((c.c.sla_state == "warning", 1), else_=0)).label("at_risk"),
            func.sum(case((c.c.sla_state == "breached", 1), else_=0)).label("breached"),
            func.min(case((waiting, c.c.created_at), else_=None)).label("oldest"),
            func.sum(case((held, 1), else_=0)).label("with_bot"),
        )
        .where(c.c.team.in_(teams), c.c.status.in_(OPEN))
        .group_by(c.c.team)
    )
    by_team = {r.team: r for r in await conn.execute(counts)}
    lines = []
    for team in teams:
        r = by_team.get(team)
        lines.append(
            TeamLine(
                team,
                int(r.waiting) if r else 0,
                int(r.pending) if r else 0,
                int(r.unassigned) if r else 0,
                int(r.at_risk) if r else 0,
                int(r.breached) if r else 0,
                float(r.oldest) if r and r.oldest is not None else None,
                int(r.with_bot) if r else 0,
            )
        )
    return lines


async def _at_risk(conn: AsyncConnection, teams: list[str]) -> list[dict[str, Any]]:
    """Conversations whose SLA is at risk or breached, the soonest due first."""
    c = conversations
    risky = (
        select(
            c.c.reference,
            c.c.subject,
            c.c.team,
            c.c.priority,
            c.c.sla_state,
            c.c.sla_due,
            agents.c.name.label("assignee"),
        )
        .outerjoin(agents, agents.c.id == c.c.assignee_id)
        .where(c.c.team.in_(teams), c.c.sla_state.in_(("warning", "breached")))
        .order_by(c.c.sla_due, c.c.id)
        .limit(AT_RISK_ROWS)
    )
    return [
        {
            "reference": int(r.reference),
            "subject": r.subject,
            "team": r.team,
            "priority": Priority(r.priority).name.lower(),
            "state": r.sla_state,
            "due": r.sla_due,
            "assignee": r.assignee,
        }
        for r in (await conn.execute(risky)).all()
    ]


async def _agent_load(conn: AsyncConnection, teams: list[str]) -> list[tuple[str, int]]:
    """Each member of the teams with the number of open conversations they hold, busiest first."""
    c = conversations
    # Distinct: the join with the person's teams repeats each conversation once per team.
    assigned = func.count(c.c.id.distinct())
    load = (
        select(agents.c.name, assigned)
        .join(agent_teams, agent_teams.c.agent_id == agents.c.id)
        .outerjoin(c, and_(c.c.assignee_id == agents.c.id, c.c.status.in_(OPEN)))
        .where(agent_teams.c.team.in_(teams))
        .group_by(agents.c.id, agents.c.name)
        .order_by(assigned.desc(), agents.c.name)
    )
    return [(str(r[0]), int(r[1])) for r in (await conn.execute(load)).all()]


async def _alerts(conn: AsyncConnection, teams: list[str]) -> list[dict[str, Any]]:
    """The latest SLA and delivery alerts in the teams, newest first."""
    c = conversations
    alerts = (
        select(events.c.kind, events.c.data, events.c.created_at, c.c.reference, c.c.team)
        .join(c, c.c.id == events.c.conversation_id)
        .where(c.c.team.in_(teams), events.c.kind.in_(ALERT_KINDS))
        .order_by(events.c.id.desc())
        .limit(ALERT_ROWS)
    )
    return [
        {
            "kind": r.kind.removeprefix("sla_"),
            "reference": int(r.reference),
            "team": r.team,
            "target": str(r.data.get("target", "")).replace("_", " ")
            or str(r.data.get("error", ""))[:200],
            "at": float(r.created_at),
        }
        for r in (await conn.execute(alerts)).all()
    ]


async def _csat(conn: AsyncConnection, teams: list[str]) -> list[dict[str, Any]]:
    """Each team's customer ratings of the last CSAT_DAYS days."""
    c = conversations
    since = time.time() - CSAT_DAYS * 86400
    ratings = (
        select(
            c.c.team,
            func.count(csat_ratings.c.score).label("ratings"),
            func.avg(csat_ratings.c.score).label("average"),
            func.sum(case((csat_ratings.c.score >= 4, 1), else_=0)).label("happy"),
        )
        .join(c, c.c.id == csat_ratings.c.conversation_id)
        .where(c.c.team.in_(teams), csat_ratings.c.updated_at >= since)
        .group_by(c.c.team)
        .order_by(c.c.team)
    )
    return [
        {
            "team": r.team,
            "count": int(r.ratings),
            "average": round(float(r.average), 2),
            "happy_share": round(int(r.happy) / int(r.ratings), 3),
        }
        for r in await conn.execute(ratings)
    ]
