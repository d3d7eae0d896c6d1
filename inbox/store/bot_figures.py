"""How the bot did for a supervisor's teams over a period: how many new conversations it
answered, how those ended (resolved by it, handed to a person, still waiting for the
customer), and what customers thought of it beside what they thought of the agents.

The conversations counted are those opened in the period (``created_at``), in the teams;
the ratings counted are those given in the period, as in the dashboard's CSAT table.
Three grouped queries over indexed columns, whatever the number of conversations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BotState
from inbox.store.bot_rows import ANSWERED
from inbox.store.tables import conversations, csat_ratings, events


@dataclass(frozen=True)
class Ratings:
    """Customer ratings (1–5) of one kind of resolution."""

    count: int
    average: float | None  # None: no rating yet


@dataclass(frozen=True)
class BotFigures:
    """The bot's part in the conversations opened in the period."""

    new_conversations: int
    answered: int  # conversations the bot answered at least once
    answers: int  # its answers in them (a conversation may get two)
    resolved: int  # the customer said yes, or stayed silent past [kb] settle_hours
    handed_off: int  # a person has it: the customer said no, asked, or an agent took it
    waiting: int  # the bot still waits for the customer's verdict
    bot_ratings: Ratings  # on conversations the bot resolved
    agent_ratings: Ratings  # on conversations agents resolved

    @property
    def answered_share(self) -> float | None:
        """Answered over new conversations."""
        return _share(self.answered, self.new_conversations)

    @property
    def resolution_rate(self) -> float | None:
        """Resolved by the bot over those whose outcome is known (waiting ones left out)."""
        return _share(self.resolved, self.resolved + self.handed_off)

    @property
    def handoff_rate(self) -> float | None:
        """Handed off over answered."""
        return _share(self.handed_off, self.answered)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


async def bot_figures(conn: AsyncConnection, teams: list[str], since: float) -> BotFigures:
    """The figures for conversations of ``teams`` opened at or after ``since``."""
    c = conversations

    cohort = (c.c.team.in_(teams), c.c.created_at >= since)
    counts = (
        await conn.execute(
            select(
                func.count(c.c.id).label("new"),
                _counted(c.c.bot_state != BotState.NONE.value).label("answered"),
                _counted(c.c.bot_state == BotState.RESOLVED.value).label("resolved"),
                _counted(c.c.bot_state == BotState.HANDED_OFF.value).label("handed_off"),
                _counted(c.c.bot_state == BotState.HOLDING.value).label("waiting"),
            ).where(*cohort)
        )
    ).one()
    answers = await conn.scalar(
        select(func.count(events.c.id))
        .join(c, c.c.id == events.c.conversation_id)
        .where(*cohort, c.c.bot_state != BotState.NONE.value, events.c.kind == ANSWERED)
    )
    bot, agents = await _ratings(conn, teams, since)
    return BotFigures(
        new_conversations=int(counts.new),
        answered=int(counts.answered),
        answers=int(answers or 0),
        resolved=int(counts.resolved),
        handed_off=int(counts.handed_off),
        waiting=int(counts.waiting),
        bot_ratings=bot,
        agent_ratings=agents,
    )


def _counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet ``condition`` (0, not NULL, when there are none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _ratings(
    conn: AsyncConnection, teams: list[str], since: float
) -> tuple[Ratings, Ratings]:
    """Ratings given since ``since`` on conversations the bot resolved, and on the others
    (a rating is asked for only after a resolution: those are the agents')."""
    c = conversations
    by_bot = (c.c.bot_state == BotState.RESOLVED.value).label("by_bot")
    rows = await conn.execute(
        select(
            by_bot,
            func.count(csat_ratings.c.score).label("ratings"),
            func.avg(csat_ratings.c.score).label("average"),
        )
        .join(c, c.c.id == csat_ratings.c.conversation_id)
        .where(c.c.team.in_(teams), csat_ratings.c.updated_at >= since)
        .group_by(by_bot)
    )
    found = {bool(r.by_bot): Ratings(int(r.ratings), round(float(r.average), 2)) for r in rows}
    empty = Ratings(0, None)
    return found.get(True, empty), found.get(False, empty)
