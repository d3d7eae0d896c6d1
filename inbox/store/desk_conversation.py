"""One conversation as an agent opens it: messages with their delivery and files, the SLA
clocks, the routing evidence, the audit trail, and who the customer is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.form_identity import shown_address
from inbox.store.accounts import Agent
from inbox.store.desk_scope import DeskScope
from inbox.store.desk_views import (
    ConversationView,
    JsonRows,
    MessageView,
    summary_of,
    summary_query,
)
from inbox.store.files import StoredFile, attachments_of, message_file
from inbox.store.sla_clocks import clock_views
from inbox.store.tables import (
    agents,
    contacts,
    conversations,
    events,
    identities,
    messages,
    outbox,
)
from inbox.store.writes import record_event

NAME_CHARS = 200  # contacts.name
NOTES_CHARS = 4000


class DeskConversation(DeskScope):
    """Reading one conversation and its files."""

    async def attachment(self, agent: Agent, reference: int, attachment_id: int) -> StoredFile:
        """A file of one of the conversation's messages, if the agent may see it."""
        async with self.engine.connect() as conn:
            row = await self._visible(conn, agent, reference)
            ids = [
                int(i)
                for i in await conn.scalars(
                    select(messages.c.id).where(messages.c.conversation_id == row.id)
                )
            ]
            return await message_file(conn, attachment_id, ids)

    async def _customer(
        self, conn: AsyncConnection, agent: Agent, row: Row[Any]
    ) -> tuple[dict[str, Any], JsonRows]:
        """Who wrote (every identity linked to them) and their other conversations that
        the agent's teams hold, newest first; the rest are only counted."""
        contact_id, conversation_id = row.contact_id, row.id
        person = (
            await conn.execute(
                select(
                    contacts.c.name,
                    contacts.c.tier,
                    contacts.c.notes,
                    contacts.c.automatic_stopped_at,
                    contacts.c.language,
                ).where(contacts.c.id == contact_id)
            )
        ).one()
        known = (
            await conn.execute(
                select(identities.c.channel, identities.c.address, identities.c.verified)
                .where(identities.c.contact_id == contact_id)
                .order_by(identities.c.id)
            )
        ).all()
        others = (
            await conn.execute(
                summary_query()
                .where(conversations.c.contact_id == contact_id)
                .where(conversations.c.id != conversation_id)
                .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
            )
        ).all()
        visible = [r for r in others if r.team in agent.teams]
        customer = {
            "name": person.name,
            "tier": person.tier,
            "notes": person.notes,
            # The language customer texts go to them in ("": none known yet, so English).
            "language": person.language,
            "identities": [
                {
                    "channel": i.channel,
                    "address": i.address,
                    "display": shown_address(i.channel, i.address),
                    "verified": bool(i.verified),
                }
                for i in known
            ],
            "other_teams_conversations": len(others) - len(visible),
            # When they asked for no automatic messages (None: they get them).
            "automatic_stopped_at": person.automatic_stopped_at,
        }
        return customer, [summary_of(r).to_json() for r in visible]

    async def edit_customer(self, agent: Agent, reference: int, name: str, notes: str) -> None:
        """Sets the name and the notes of the conversation's customer (an agent who can see
        one of their conversations may); an audit event on this conversation says so."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            await conn.execute(
                update(contacts)
                .where(contacts.c.id == row.contact_id)
                .values(name=name[:NAME_CHARS], notes=notes[:NOTES_CHARS])
            )
            await record_event(conn, row.id, "customer_edited", agent.name, {"name": name})

    async def view(self, agent: Agent, reference: int) -> ConversationView:
        """One conversation with its messages (notes included) and its evidence."""
        async with self.engine.connect() as conn:
            row = await self._visible(conn, agent, reference)
            message_rows = (
                await conn.execute(
                    select(
                        messages.c.id,
                        messages.c.direction,
                        messages.c.author,
                        messages.c.channel,
                        messages.c.internal,
                        messages.c.subject,
                        messages.c.text,
                        messages.c.html,
                        messages.c.created_at,
                        outbox.c.state,
                        outbox.c.last_error,
                        agents.c.name.label("agent_name"),
                    )
                    .outerjoin(outbox, outbox.c.message_id == messages.c.id)
                    .outerjoin(agents, agents.c.id == messages.c.agent_id)
                    .where(messages.c.conversation_id == row.id)
                    .order_by(messages.c.created_at, messages.c.id)
                )
            ).all()
            event_rows = (
                await conn.execute(
                    select(events.c.kind, events.c.actor, events.c.data, events.c.created_at)
                    .where(events.c.conversation_id == row.id)
                    .order_by(events.c.id)
                )
            ).all()
            files = await attachments_of(conn, [int(m.id) for m in message_rows])
            clocks = await clock_views(conn, row.id)
            customer, history = await self._customer(conn, agent, row)
            customer["reply_options"] = await self._reply_options(conn, row)
        trail = [
            {"kind": e.kind, "actor": e.actor, "data": e.data, "at": e.created_at}
            for e in event_rows
        ]
        routed = [e["data"] for e in trail if e["kind"] == "routed"]
        return ConversationView(
            summary=summary_of(row),
            messages=[
                MessageView(
                    message_id=int(m.id),
                    direction=m.direction,
                    author=m.author,
                    channel=m.channel,
                    internal=bool(m.internal),
                    subject=m.subject,
                    text=m.text,
                    created_at=float(m.created_at),
                    delivery=m.state,
                    delivery_error=m.last_error,
                    html=m.html,
                    attachments=tuple(files.get(int(m.id), ())),
                    author_name=m.agent_name or "",
                )
                for m in message_rows
            ],
            routing=routed[-1] if routed else None,
            sla=clocks,
            customer=customer,
            history=history,
            events=trail,
        )
