"""Which team and which person hold a conversation: reassigning, assigning, and confirming
the router's choice. A correction or a confirmation teaches the router an example.
"""

from __future__ import annotations

from sqlalchemy import select, update

from inbox.errors import Conflict, NotFound
from inbox.store.accounts import Agent
from inbox.store.bot_rows import take_from_bot
from inbox.store.corrections import record_correction
from inbox.store.desk_scope import DeskScope
from inbox.store.tables import agent_teams, agents, conversations, routing_examples
from inbox.store.writes import record_event


class DeskRouting(DeskScope):
    """Moving conversations between teams and people."""

    async def reassign(self, agent: Agent, reference: int, team: str) -> str:
        """Moves the conversation to another team; the first message becomes a routing
        example for that team (a correction). Returns that text."""
        if team not in self.team_names:
            raise NotFound(f"no team called {team!r}")
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            await take_from_bot(conn, row.id, agent.name)
            if row.team == team:
                raise Conflict(f"#{reference} is already with {team}")
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id)
                .values(team=team, assignee_id=None, updated_at=self.clock())
            )
            data = {"from": row.team, "to": team, "correction": True}
            await record_event(conn, row.id, "reassigned", agent.name, data)
            return await record_correction(
                conn,
                row.id,
                team,
                "reassignment",
                by=agent.name,
                from_team=row.team,
                mode=self.corrections,
            )

    async def assign(self, agent: Agent, reference: int, assignee: str | None) -> str | None:
        """Gives the conversation to a member of its team (``None``: to nobody)."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            await take_from_bot(conn, row.id, agent.name)
            assignee_id = None
            if assignee is not None:
                assignee_id = await conn.scalar(
                    select(agents.c.id)
                    .join(agent_teams, agent_teams.c.agent_id == agents.c.id)
                    .where(
                        agents.c.name == assignee,
                        agent_teams.c.team == row.team,
                        agents.c.disabled_at.is_(None),
                    )
                )
                if assignee_id is None:
                    raise NotFound(f"nobody called {assignee!r} works in {row.team}")
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id)
                .values(assignee_id=assignee_id, updated_at=self.clock())
            )
            await record_event(
                conn, row.id, "assigned", agent.name, {"from": row.assignee, "to": assignee}
            )
        return assignee

    async def confirm(self, agent: Agent, reference: int) -> tuple[str, str]:
        """Confirms the conversation is with the right team: its first message becomes a
        routing example for that team. Returns the team and the text."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            await take_from_bot(conn, row.id, agent.name)
            if row.team == self.fallback_team:
                raise Conflict(f"#{reference} is with {row.team}, which is no team to confirm")
            taught = await conn.scalar(
                select(routing_examples.c.id).where(routing_examples.c.conversation_id == row.id)
            )
            if taught is not None:
                raise Conflict(f"#{reference} has already taught the router")
            await record_event(conn, row.id, "routing_confirmed", agent.name, {"team": row.team})
            return row.team, await record_correction(
                conn,
                row.id,
                row.team,
                "confirmation",
                by=agent.name,
                from_team=row.team,
                mode=self.corrections,
            )
