"""Agents and their bearer tokens (only a hash of each token is kept)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.errors import Conflict
from inbox.store.engine import now
from inbox.store.tables import agent_teams, agents


@dataclass(frozen=True)
class Agent:
    """A person who answers customers, and the teams whose queues they work."""

    agent_id: int
    name: str
    teams: tuple[str, ...]


def token_hash(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Creates agents and finds them by token."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_agent(self, name: str, teams: list[str]) -> tuple[Agent, str]:
        """Creates an agent; returns it and its token (shown once, never stored)."""
        token = "ibx_" + secrets.token_urlsafe(32)
        try:
            async with self.engine.begin() as conn:
                agent_id = (
                    await conn.execute(
                        insert(agents)
                        .values(name=name, token_hash=token_hash(token), created_at=now())
                        .returning(agents.c.id)
                    )
                ).scalar_one()
                for team in dict.fromkeys(teams):
                    await conn.execute(insert(agent_teams).values(agent_id=agent_id, team=team))
        except IntegrityError as err:
            raise Conflict(f"an agent called {name!r} already exists") from err
        return Agent(int(agent_id), name, tuple(dict.fromkeys(teams))), token

    async def by_token(self, token: str) -> Agent | None:
        """The agent holding ``token``, if any."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(agents.c.id, agents.c.name).where(
                        agents.c.token_hash == token_hash(token)
                    )
                )
            ).first()
            if row is None:
                return None
            teams = (
                await conn.execute(
                    select(agent_teams.c.team)
                    .where(agent_teams.c.agent_id == row.id)
                    .order_by(agent_teams.c.team)
                )
            ).scalars()
            return Agent(int(row.id), row.name, tuple(teams))
