"""The desk's answers to the customer: a reply on a channel of theirs, an internal note,
the resolution (with its one request for a rating), and another try at an answer whose
delivery failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.errors import Conflict, NotFound
from inbox.models import Attachment, Status
from inbox.sla.policy import RESPONSES, Target
from inbox.store.accounts import Agent
from inbox.store.bot_rows import take_from_bot
from inbox.store.contact_policy import stop_automatic
from inbox.store.desk_scope import DeskScope
from inbox.store.form_copies import queue_email_copies
from inbox.store.outbox_retry import Retried, retry_failed
from inbox.store.ratings import ask_for_rating
from inbox.store.tables import attachments, contacts, conversations, messages, outbox
from inbox.store.writes import queue_outbound, record_event


class Held(Conflict):
    """An answer not sent because the conversation changed since the agent looked."""


async def _attach(
    conn: AsyncConnection, message_id: int, files: Sequence[Attachment], stamp: float
) -> None:
    """Stores an answer's files as its attachments, in the answer's transaction."""
    if not files:
        return
    await conn.execute(
        insert(attachments),
        [
            {
                "message_id": message_id,
                "kind": "attachment",
                "filename": f.filename,
                "content_type": f.content_type,
                "size": len(f.data),
                "omitted": False,
                "data": f.data,
                "created_at": stamp,
            }
            for f in files
        ],
    )


class DeskAnswers(DeskScope):
    """Replying, noting and resolving."""

    async def _route_answer(
        self, conn: AsyncConnection, row: Row[Any], via: str | None, to: str | None
    ) -> tuple[str, str]:
        """The channel and address an answer goes to: the agent's choice (a channel, and
        an address on it when the customer has several), else the default option."""
        options = await self._reply_options(conn, row)
        if via is None:
            return options[0]["channel"], options[0]["address"]
        for option in options:
            if option["channel"] == via and to in (None, option["address"]):
                return via, option["address"]
        where = f"{via!r}" if to is None else f"{via!r} at {to!r}"
        raise NotFound(
            f"#{row.reference} cannot be answered on {where}: the customer has no identity "
            f"there (choose one of {', '.join(o['channel'] for o in options)})"
        )

    async def reply(
        self,
        agent: Agent,
        reference: int,
        text: str,
        *,
        seen: int | None = None,
        via: str | None = None,
        to: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        """Answers the customer where they wrote last, or on the channel ``via`` (at the
        address ``to``) the agent chose; returns the message id. ``files`` (checked for
        size and number by the caller) are stored with the answer, in its transaction,
        and go out with it.

        With ``seen`` (the newest message id the agent's page showed), the answer is held
        (Conflict) when a customer message or another agent's answer arrived since.
        """
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            if seen is not None:
                newer = await conn.scalar(
                    select(func.count(messages.c.id)).where(
                        messages.c.conversation_id == row.id,
                        messages.c.id > seen,
                        messages.c.internal.is_(False),
                        or_(
                            messages.c.direction == "in",
                            and_(
                                messages.c.author == "agent",
                                messages.c.agent_id != agent.agent_id,
                            ),
                        ),
                    )
                )
                if newer:
                    raise Held(
                        f"not sent: {newer} new message(s) arrived in #{reference} since you "
                        "opened it. Read them, then send again."
                    )
            channel, address = await self._route_answer(conn, row, via, to)
            await take_from_bot(conn, row.id, agent.name)
            message_id = await queue_outbound(
                conn,
                conversation_id=row.id,
                channel=channel,
                address=address,
                text=text,
                author="agent",
                kind="reply",
                agent_id=agent.agent_id,
                subject=row.subject,
            )
            await _attach(conn, message_id, files, self.clock())
            # On a form ticket, also mailed to a confirmed address (a delivery of its own).
            await queue_email_copies(conn, self.form_copies, [message_id], agent.name)
            stamp = self.clock()
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id)
                .values(status=Status.PENDING.value, updated_at=stamp)
            )
            # Answered: the response clocks stop; the rest wait while the customer does.
            await self.clocks.stop(conn, row.id, RESPONSES, stamp)
            await self.clocks.pause(conn, row.id, stamp)
            await self.clocks.refresh(conn, [row.id])
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id, conversations.c.first_response_at.is_(None))
                .values(first_response_at=stamp)
            )
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id, conversations.c.assignee_id.is_(None))
                .values(assignee_id=agent.agent_id)
            )
            await record_event(conn, row.id, "replied", agent.name, {"message_id": message_id})
        return message_id

    async def note(self, agent: Agent, reference: int, text: str) -> int:
        """Adds an internal note, never shown to the customer."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            message_id = (
                await conn.execute(
                    insert(messages)
                    .values(
                        conversation_id=row.id,
                        direction="out",
                        channel="note",
                        external_id=f"note:{uuid.uuid4().hex}",
                        author="agent",
                        agent_id=agent.agent_id,
                        internal=True,
                        subject="",
                        text=text,
                        created_at=self.clock(),
                    )
                    .returning(messages.c.id)
                )
            ).scalar_one()
            await record_event(conn, row.id, "noted", agent.name, {"message_id": message_id})
        return int(message_id)

    async def retry_delivery(self, agent: Agent, reference: int, message_id: int) -> Retried:
        """Sends the conversation's message ``message_id`` again after its delivery failed
        for good (the customer unblocked the bot, the mail server was fixed). NotFound
        unless the message is this conversation's and has a delivery; Conflict unless that
        delivery failed (another agent already tried it again, say)."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            outbox_id = await conn.scalar(
                select(outbox.c.id)
                .join(messages, messages.c.id == outbox.c.message_id)
                .where(messages.c.id == message_id, messages.c.conversation_id == row.id)
            )
            if outbox_id is None:
                raise NotFound(f"#{reference} has no delivery of message {message_id}")
            return await retry_failed(conn, int(outbox_id), agent.name)

    async def set_automatic(self, agent: Agent, reference: int, *, on: bool) -> None:
        """Turns automatic messages to the conversation's customer on or off, on all their
        channels, as they asked an agent (by email or on the phone, say); Conflict when
        they already are."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            via = f"asked an agent, in #{reference}"
            if not await stop_automatic(conn, int(row.contact_id), not on, agent.name, via):
                state = "on" if on else "off"
                raise Conflict(f"automatic messages to this customer are already {state}")

    async def resolve(self, agent: Agent, reference: int) -> None:
        """Marks the conversation resolved; a new customer message reopens it."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            if row.status == Status.RESOLVED.value:
                raise Conflict(f"#{reference} is already resolved")
            stamp = self.clock()
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id)
                .values(status=Status.RESOLVED.value, updated_at=stamp)
            )
            await self.clocks.stop(conn, row.id, list(Target), stamp)
            await self.clocks.refresh(conn, [row.id])
            await record_event(conn, row.id, "resolved", agent.name, {})
            await self._ask_for_rating(conn, row)

    async def _ask_for_rating(self, conn: AsyncConnection, row: Row[Any]) -> None:
        """The first resolution of a conversation asks the customer for a rating."""
        if self.rating_request is None:
            return
        language = await conn.scalar(
            select(contacts.c.language).where(contacts.c.id == row.contact_id)
        )
        text = self.rating_request(int(row.reference), str(language or ""))
        await ask_for_rating(
            conn, row.id, row.channel, row.address, row.subject, text, "desk", self.contact
        )
