"""The choices the desk's search form offers (its filters), for the page to render."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inbox.models import Priority, Status
from inbox.store.accounts import Agent
from inbox.store.desk import Desk
from inbox.store.desk_search import SLA_STATES


async def search_form(desk: Desk, agent: Agent, channels: Sequence[str]) -> dict[str, Any]:
    """The choices the search form offers this agent."""
    people = sorted(p["name"] for p in await desk.teammates(agent) if p["name"] != agent.name)
    return {
        "search_statuses": [s.value for s in Status],
        "search_teams": list(agent.teams),
        "search_people": people,
        "search_channels": list(channels),
        "search_priorities": [p.name.lower() for p in sorted(Priority, reverse=True)],
        "search_sla": list(SLA_STATES),
    }
