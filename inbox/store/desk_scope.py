"""What every desk operation starts from: its settings, the conversations an agent may see
(another team's conversation does not exist as far as the agent can tell), and where an
answer to one can go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.config.settings import ContactSettings
from inbox.errors import NotFound
from inbox.form_identity import shown_address
from inbox.sla.policy import SlaSettings
from inbox.store.accounts import Agent
from inbox.store.desk_views import JsonRows, summary_query
from inbox.store.engine import now
from inbox.store.form_copies import FormCopies
from inbox.store.locks import lock_conversation
from inbox.store.sla_clocks import SlaClocks
from inbox.store.tables import conversation_refs, conversations, identities


class DeskScope:
    """The desk's settings and the checks every operation makes first."""

    def __init__(
        self,
        engine: AsyncEngine,
        team_names: set[str],
        fallback_team: str = "",
        *,
        clocks: SlaClocks | None = None,
        clock: Callable[[], float] = now,
        rating_request: Callable[[int], str] | None = None,
        reply_channels: dict[str, str] | None = None,
        form_copies: FormCopies | None = None,
        contact: ContactSettings | None = None,
    ) -> None:
        self.rating_request = rating_request
        # Where an answer to a form ticket is also mailed (None: the ticket page alone).
        self.form_copies = form_copies
        self.contact = contact or ContactSettings()  # the contact policy: rating requests
        # identity channel -> the connector that reaches it ("email" -> the first mailbox)
        self.reply_channels = reply_channels or {}
        self.engine = engine
        self.team_names = team_names
        self.fallback_team = fallback_team
        self.clocks = clocks or SlaClocks(SlaSettings(), {})
        self.clock = clock

    async def _visible(
        self, conn: AsyncConnection, agent: Agent, reference: int, *, lock: bool = False
    ) -> Row[Any]:
        """The conversation ``reference`` leads to, if it is in the agent's teams; with
        ``lock``, its row is locked first (an action on it), so the row read is current."""
        target = select(conversation_refs.c.conversation_id).where(
            conversation_refs.c.reference == reference
        )
        if lock:
            found = await conn.scalar(target)
            if found is not None:
                await lock_conversation(conn, int(found))
        row = (
            await conn.execute(
                summary_query().where(
                    conversations.c.id.in_(target.scalar_subquery()),
                    conversations.c.team.in_(agent.teams),
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"no conversation #{reference} in your teams")
        return row

    async def _reply_options(self, conn: AsyncConnection, row: Row[Any]) -> JsonRows:
        """Where an answer can go: the conversation's own channel first, then the other
        identities of the customer that a configured channel can reach."""
        options = [_reply_option(row.channel, row.address, own=True)]
        for i in await conn.execute(
            select(identities.c.channel, identities.c.address)
            .where(identities.c.contact_id == row.contact_id)
            .order_by(identities.c.id)
        ):
            channel = self.reply_channels.get(i.channel)
            if channel and (channel, i.address) != (row.channel, row.address):
                options.append(_reply_option(channel, i.address, own=False))
        return options


def _reply_option(channel: str, address: str, *, own: bool) -> dict[str, Any]:
    """One place an answer can go; ``display`` is the address as an agent reads it."""
    return {
        "channel": channel,
        "address": address,
        "display": shown_address(channel, address),
        "own": own,
    }
