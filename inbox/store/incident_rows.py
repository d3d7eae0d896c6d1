"""Incidents as an agent sees them: only the member conversations in the agent's teams."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.store.accounts import Agent
from inbox.store.tables import conversations, incident_members, incidents


async def visible_incidents(
    engine: AsyncEngine, agent: Agent, *, status: str = "open"
) -> list[dict[str, Any]]:
    """Incidents with at least one member in the agent's teams, newest first.

    The members listed are the visible ones; ``customers`` counts them all, so an agent
    knows how big the incident is without seeing other teams' conversations.
    """
    query = (
        select(
            incidents.c.id,
            incidents.c.status,
            incidents.c.customers,
            incidents.c.created_at,
            incidents.c.updated_at,
            conversations.c.reference,
            conversations.c.subject,
            conversations.c.team,
            incident_members.c.similarity,
        )
        .join(incident_members, incident_members.c.incident_id == incidents.c.id)
        .join(conversations, conversations.c.id == incident_members.c.conversation_id)
        .where(conversations.c.team.in_(agent.teams), incidents.c.status == status)
        .order_by(incidents.c.id.desc(), incident_members.c.id)
    )
    found: dict[int, dict[str, Any]] = {}
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            incident = found.setdefault(
                int(row.id),
                {
                    "id": int(row.id),
                    "status": row.status,
                    "customers": int(row.customers),
                    "created_at": float(row.created_at),
                    "updated_at": float(row.updated_at),
                    "members": [],
                },
            )
            incident["members"].append(
                {
                    "reference": int(row.reference),
                    "ticket": f"#{row.reference}",
                    "team": row.team,
                    "subject": row.subject,
                    "similarity": round(float(row.similarity), 4),
                }
            )
    return list(found.values())
