"""What every desk operation starts from: its settings, the conversations an agent may see
(another team's conversation does not exist as far as the agent can tell), and where an
answer to one can go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.config.settings import ContactSettings, CorrectionMode
from inbox.errors import NotFound
from inbox.form_identity import shown_address
from inbox.models import MessageMeta
from inbox.sla.policy import SlaSettings
from inbox.store.accounts import Agent
from inbox.store.desk_views import JsonRows, summary_query
from inbox.store.engine import now
from inbox.store.form_copies import FormCopies
from inbox.store.locks import lock_conversation
from inbox.store.sla_clocks import SlaClocks
from inbox.store.tables import conversation_refs, conversations, identities, messages


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
        rating_request: Callable[[int, str], str] | None = None,  # (reference, language)
        reply_channels: dict[str, str] | None = None,
        form_copies: FormCopies | None = None,
        contact: ContactSettings | None = None,
        corrections: CorrectionMode = "immediate",
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
        self.corrections = corrections  # a correction teaches at once, or after a review

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
        """Where an answer can go, the default first: where the customer wrote last (their
        latest message came on another of their channels: a merged duplicate, say), then
        the conversation's own channel, then the customer's other identities that a
        configured channel can reach."""
        options = [_reply_option(row.channel, row.address, own=True)]
        for i in await conn.execute(
            select(identities.c.channel, identities.c.address)
            .where(identities.c.contact_id == row.contact_id)
            .order_by(identities.c.id)
        ):
            channel = self.reply_channels.get(i.channel)
            if channel and (channel, i.address) != (row.channel, row.address):
                options.append(_reply_option(channel, i.address, own=False))
        last = await self._written_last(conn, row)
        first = [o | {"last": True} for o in options if (o["channel"], o["address"]) == last]
        return first + [o for o in options if (o["channel"], o["address"]) != last]

    async def _written_last(self, conn: AsyncConnection, row: Row[Any]) -> tuple[str, str]:
        """The channel and address of the customer's latest message in the conversation,
        when that channel answers on itself (a mailbox, the bot, the chat; not the form,
        whose address has to be confirmed first); else the conversation's own."""
        latest = (
            await conn.execute(
                select(messages.c.channel, messages.c.meta)
                .where(
                    messages.c.conversation_id == row.id,
                    messages.c.direction == "in",
                    messages.c.author == "customer",
                )
                # The latest stored: channels' own clocks differ (Telegram's are seconds).
                .order_by(messages.c.id.desc())
                .limit(1)
            )
        ).first()
        if latest is None or latest.channel not in self.reply_channels.values():
            return row.channel, row.address
        sender = MessageMeta.from_dict(latest.meta).sender
        return (latest.channel, sender) if sender else (row.channel, row.address)


def _reply_option(channel: str, address: str, *, own: bool) -> dict[str, Any]:
    """One place an answer can go; ``display`` is the address as an agent reads it."""
    return {
        "channel": channel,
        "address": address,
        "display": shown_address(channel, address),
        "own": own,
        "last": False,  # where the customer wrote last, when that is not the conversation's
    }
