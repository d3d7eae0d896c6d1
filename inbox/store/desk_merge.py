"""Merging two conversations an agent confirms are the same issue."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.errors import Conflict
from inbox.form_identity import IDENTITY_CHANNEL, typed_address
from inbox.models import Status
from inbox.store.accounts import Agent
from inbox.store.desk_scope import DeskScope
from inbox.store.locks import serialize
from inbox.store.tables import (
    conversation_refs,
    conversations,
    identities,
    merge_suggestions,
    message_vectors,
    messages,
)
from inbox.store.writes import record_event


class DeskMerge(DeskScope):
    """Merging one conversation into another."""

    async def merge(self, agent: Agent, reference: int, into: int) -> int:
        """Confirms that conversation ``reference`` is the same issue as ``into``.

        Its messages move to ``into``, its references lead there from now on, and the
        SLA clock of ``into`` runs from the earlier of the two. Only one customer's
        conversations merge, except that an agent may merge a form message whose typed
        address is not verified into another customer's ticket (its sender still sees only
        their own words there): never a customer's conversation into somebody else's.
        Returns the reference of the merged conversation.
        """
        async with self.engine.begin() as conn:
            # Messages move between conversations: no ingest may add to either meanwhile.
            await serialize(conn, "ingest")
            source = await self._visible(conn, agent, reference)
            target = await self._visible(conn, agent, into)
            if source.id == target.id:
                raise Conflict(f"#{reference} and #{into} are the same conversation")
            owners = dict(
                (
                    await conn.execute(
                        select(conversations.c.id, conversations.c.contact_id).where(
                            conversations.c.id.in_([source.id, target.id])
                        )
                    )
                ).all()
            )
            if owners[source.id] != owners[target.id] and not await _unverified_form_sender(
                conn, owners[source.id], owners[target.id]
            ):
                raise Conflict(
                    "only one customer's conversations can be merged (or a form message "
                    "from an address that is not verified, into the ticket it belongs to)"
                )
            for table in (messages, message_vectors, conversation_refs):
                await conn.execute(
                    update(table)
                    .where(table.c.conversation_id == source.id)
                    .values(conversation_id=target.id)
                )
            dues = [d for d in (source.first_response_due, target.first_response_due) if d]
            stamp = self.clock()
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == target.id)
                .values(
                    created_at=min(source.created_at, target.created_at),
                    first_response_due=min(dues) if dues else None,
                    updated_at=stamp,
                )
            )
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == source.id)
                .values(status=Status.RESOLVED.value, updated_at=stamp)
            )
            await self.clocks.merge(conn, source.id, target.id, stamp)
            await conn.execute(
                update(merge_suggestions)
                .where(
                    merge_suggestions.c.conversation_id == source.id,
                    merge_suggestions.c.candidate_id == target.id,
                )
                .values(state="merged")
            )
            data = {"from": int(source.reference), "into": int(target.reference)}
            await record_event(conn, target.id, "merged", agent.name, data)
            await record_event(conn, source.id, "merged_into", agent.name, data)
        return int(target.reference)


async def _unverified_form_sender(conn: AsyncConnection, source: int, target: int) -> bool:
    """Whether contact ``source`` is only a web form sender whose typed address proves
    nothing, and that address is one of contact ``target``'s (the agent judges the rest)."""
    rows = (
        await conn.execute(
            select(
                identities.c.contact_id,
                identities.c.channel,
                identities.c.address,
                identities.c.verified,
            ).where(identities.c.contact_id.in_([source, target]))
        )
    ).all()
    theirs = [r for r in rows if r.contact_id == source]
    if not theirs or any(r.channel != IDENTITY_CHANNEL or r.verified for r in theirs):
        return False
    typed = {typed_address(r.address) for r in theirs}
    # The target's addresses are read the same way, whatever their channel: a form
    # identity of theirs counts by its typed address.
    owned = {typed_address(r.address) for r in rows if r.contact_id == target}
    return bool(typed & owned)
