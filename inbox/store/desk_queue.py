"""The agent's queue: the conversations in their teams, taking the next one, and who
shares those teams.
"""

from __future__ import annotations

from sqlalchemy import select, update

from inbox.bot_words import BotState
from inbox.errors import Conflict
from inbox.models import Status
from inbox.store.accounts import Agent
from inbox.store.desk_scope import DeskScope
from inbox.store.desk_views import (
    OPEN_STATES,
    ConversationSummary,
    JsonRows,
    summary_of,
    summary_query,
)
from inbox.store.tables import agent_teams, agents, conversations
from inbox.store.writes import record_event


class DeskQueue(DeskScope):
    """Listing and claiming the conversations of the agent's teams."""

    async def list(
        self,
        agent: Agent,
        *,
        team: str | None = None,
        status: str | None = None,
        limit: int = 100,
        unresolved: bool = False,
    ) -> list[ConversationSummary]:
        """Conversations in the agent's teams, most urgent and oldest first (``unresolved``:
        without the resolved ones)."""
        teams = [t for t in agent.teams if team is None or t == team]
        # A conversation the bot holds is nobody's work until it hands it off.
        query = summary_query().where(
            conversations.c.team.in_(teams), conversations.c.bot_state != BotState.HOLDING.value
        )
        if status is not None:
            query = query.where(conversations.c.status == status)
        if unresolved:
            query = query.where(conversations.c.status != Status.RESOLVED.value)
        query = query.order_by(
            conversations.c.priority.desc(), conversations.c.created_at, conversations.c.id
        ).limit(limit)
        async with self.engine.connect() as conn:
            return [summary_of(r) for r in (await conn.execute(query)).all()]

    async def claim_next(self, agent: Agent) -> ConversationSummary | None:
        """Assigns the most urgent, oldest unassigned conversation in the agent's teams.

        Atomic: the update re-checks that nobody holds it, so two agents never get the
        same conversation; the loser simply takes the next one.
        """
        for _ in range(20):
            async with self.engine.begin() as conn:
                candidate = await conn.scalar(
                    select(conversations.c.id)
                    .where(
                        conversations.c.team.in_(agent.teams),
                        conversations.c.assignee_id.is_(None),
                        conversations.c.status.in_(OPEN_STATES),
                        conversations.c.bot_state != BotState.HOLDING.value,
                    )
                    .order_by(
                        conversations.c.priority.desc(),
                        conversations.c.created_at,
                        conversations.c.id,
                    )
                    .limit(1)
                    # PostgreSQL: another agent's claim in flight is passed over, not
                    # waited for (SQLite runs one claim at a time anyway).
                    .with_for_update(skip_locked=True)
                )
                if candidate is None:
                    return None
                taken = await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == candidate, conversations.c.assignee_id.is_(None))
                    .values(
                        assignee_id=agent.agent_id,
                        status=Status.OPEN.value,
                        updated_at=self.clock(),
                    )
                )
                if taken.rowcount != 1:
                    continue
                await record_event(conn, candidate, "assigned", agent.name, {"agent": agent.name})
                row = (
                    await conn.execute(summary_query().where(conversations.c.id == candidate))
                ).one()
                return summary_of(row)
        raise Conflict("the queue is too busy right now; try again")

    async def teammates(self, agent: Agent) -> JsonRows:
        """The people (not disabled) who share a team with ``agent``, with those teams."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(agents.c.name, agent_teams.c.team)
                    .join(agent_teams, agent_teams.c.agent_id == agents.c.id)
                    .where(agent_teams.c.team.in_(agent.teams), agents.c.disabled_at.is_(None))
                    .order_by(agents.c.name, agent_teams.c.team)
                )
            ).all()
        found: dict[str, list[str]] = {}
        for r in rows:
            found.setdefault(r.name, []).append(r.team)
        return [{"name": n, "teams": t} for n, t in found.items()]
