"""Teams nobody works: a configured team with no person in it (or only people an admin
disabled) is a queue nobody sees.

Every unsure or foreign-language message goes to the fallback team (``triage``), so a
set-up whose accounts all work other teams leaves those customers unanswered without
anyone noticing. The service says so loudly at start and the dashboard lists them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.models import Status
from inbox.store.tables import agent_teams, agents, conversations


@dataclass(frozen=True)
class Unstaffed:
    """A configured team nobody works, and how many conversations wait in it unseen."""

    team: str
    open_conversations: int


async def unstaffed_teams(engine: AsyncEngine, team_names: Collection[str]) -> list[Unstaffed]:
    """The configured teams with nobody enabled in them, in name order."""
    async with engine.connect() as conn:
        staffed = {
            str(r[0])
            for r in await conn.execute(
                select(agent_teams.c.team)
                .join(agents, agents.c.id == agent_teams.c.agent_id)
                .where(agent_teams.c.team.in_(list(team_names)), agents.c.disabled_at.is_(None))
            )
        }
        empty = sorted(set(team_names) - staffed)
        if not empty:
            return []
        counts = dict(
            (str(team), int(n))
            for team, n in await conn.execute(
                select(conversations.c.team, func.count())
                .where(
                    conversations.c.team.in_(empty),
                    conversations.c.status != Status.RESOLVED.value,
                )
                .group_by(conversations.c.team)
            )
        )
    return [Unstaffed(team, counts.get(team, 0)) for team in empty]
