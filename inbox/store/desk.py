"""What agents do with conversations: list, read, claim, reply, note, reassign, resolve,
merge.

Every read and write checks the agent's teams: another team's conversation does not
exist as far as the agent can tell (NotFound, a 404 at the API).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict, NotFound
from inbox.models import Priority, Status
from inbox.sla.policy import RESPONSES, SlaSettings, Target
from inbox.store.accounts import Agent
from inbox.store.engine import now
from inbox.store.files import StoredFile, attachments_of, message_file
from inbox.store.locks import lock_conversation, serialize
from inbox.store.sla_clocks import SlaClocks, clock_views
from inbox.store.tables import (
    agent_teams,
    agents,
    contacts,
    conversation_refs,
    conversations,
    events,
    identities,
    merge_suggestions,
    message_vectors,
    messages,
    outbox,
    routing_examples,
)
from inbox.store.writes import queue_outbound, record_event
from inbox.text import embedding_text

OPEN_STATES = (Status.NEW.value, Status.OPEN.value)


JsonRows = list[dict[str, Any]]


class Held(Conflict):
    """An answer not sent because the conversation changed since the agent looked."""


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as it appears in a queue."""

    reference: int
    subject: str
    status: str
    team: str
    priority: str
    channel: str
    assignee: str | None
    created_at: float
    updated_at: float
    first_response_due: float | None
    sla_due: float | None = None
    sla_state: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON for the agent API."""
        return {
            "sla_due": self.sla_due,
            "sla_state": self.sla_state,
            "reference": self.reference,
            "ticket": f"#{self.reference}",
            "subject": self.subject,
            "status": self.status,
            "team": self.team,
            "priority": self.priority,
            "channel": self.channel,
            "assignee": self.assignee,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "first_response_due": self.first_response_due,
        }


@dataclass(frozen=True)
class MessageView:
    """One message as an agent sees it, delivery state included."""

    message_id: int
    direction: str
    author: str
    channel: str
    internal: bool
    subject: str
    text: str
    created_at: float
    delivery: str | None
    delivery_error: str | None
    html: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON for the agent API."""
        return {
            "id": self.message_id,
            "html": self.html,
            "attachments": list(self.attachments),
            "direction": self.direction,
            "author": self.author,
            "channel": self.channel,
            "internal": self.internal,
            "subject": self.subject,
            "text": self.text,
            "created_at": self.created_at,
            "delivery": self.delivery,
            "delivery_error": self.delivery_error,
        }


@dataclass(frozen=True)
class ConversationView:
    """A conversation with its messages, routing evidence and audit trail."""

    summary: ConversationSummary
    messages: list[MessageView]
    routing: dict[str, Any] | None
    events: list[dict[str, Any]]
    sla: list[dict[str, Any]] = field(default_factory=list)
    customer: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON for the agent API."""
        return {
            **self.summary.to_json(),
            "sla": self.sla,
            "customer": self.customer,
            "history": self.history,
            "messages": [m.to_json() for m in self.messages],
            "routing": self.routing,
            "events": self.events,
        }


def _summary_query() -> Any:
    return select(
        conversations.c.id,
        conversations.c.reference,
        conversations.c.subject,
        conversations.c.status,
        conversations.c.team,
        conversations.c.priority,
        conversations.c.channel,
        agents.c.name.label("assignee"),
        conversations.c.created_at,
        conversations.c.updated_at,
        conversations.c.first_response_due,
        conversations.c.sla_due,
        conversations.c.sla_state,
        conversations.c.address,  # where answers go: not part of the summary
        conversations.c.contact_id,
    ).outerjoin(agents, agents.c.id == conversations.c.assignee_id)


def _summary(row: Row[Any]) -> ConversationSummary:
    return ConversationSummary(
        reference=int(row.reference),
        subject=row.subject,
        status=row.status,
        team=row.team,
        priority=Priority(row.priority).name.lower(),
        channel=row.channel,
        assignee=row.assignee,
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        first_response_due=row.first_response_due,
        sla_due=row.sla_due,
        sla_state=row.sla_state,
    )


class Desk:
    """The agents' operations on conversations."""

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
    ) -> None:
        self.rating_request = rating_request
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
                _summary_query().where(
                    conversations.c.id.in_(target.scalar_subquery()),
                    conversations.c.team.in_(agent.teams),
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"no conversation #{reference} in your teams")
        return row

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
        query = _summary_query().where(conversations.c.team.in_(teams))
        if status is not None:
            query = query.where(conversations.c.status == status)
        if unresolved:
            query = query.where(conversations.c.status != Status.RESOLVED.value)
        query = query.order_by(
            conversations.c.priority.desc(), conversations.c.created_at, conversations.c.id
        ).limit(limit)
        async with self.engine.connect() as conn:
            return [_summary(r) for r in (await conn.execute(query)).all()]

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

    async def _reply_options(self, conn: AsyncConnection, row: Row[Any]) -> JsonRows:
        """Where an answer can go: the conversation's own channel first, then the other
        identities of the customer that a configured channel can reach."""
        options = [{"channel": row.channel, "address": row.address, "own": True}]
        for i in await conn.execute(
            select(identities.c.channel, identities.c.address)
            .where(identities.c.contact_id == row.contact_id)
            .order_by(identities.c.id)
        ):
            channel = self.reply_channels.get(i.channel)
            if channel and (channel, i.address) != (row.channel, row.address):
                options.append({"channel": channel, "address": i.address, "own": False})
        return options

    async def _route_answer(
        self, conn: AsyncConnection, row: Row[Any], via: str | None
    ) -> tuple[str, str]:
        options = await self._reply_options(conn, row)
        if via is None:
            return options[0]["channel"], options[0]["address"]
        for option in options:
            if option["channel"] == via:
                return via, option["address"]
        raise NotFound(
            f"#{row.reference} cannot be answered on {via!r}: the customer has no identity "
            f"there (choose one of {', '.join(o['channel'] for o in options)})"
        )

    async def _customer(
        self, conn: AsyncConnection, agent: Agent, row: Row[Any]
    ) -> tuple[dict[str, Any], JsonRows]:
        """Who wrote (every identity linked to them) and their other conversations that
        the agent's teams hold, newest first; the rest are only counted."""
        contact_id, conversation_id = row.contact_id, row.id
        person = (
            await conn.execute(
                select(contacts.c.name, contacts.c.tier).where(contacts.c.id == contact_id)
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
                _summary_query()
                .where(conversations.c.contact_id == contact_id)
                .where(conversations.c.id != conversation_id)
                .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
            )
        ).all()
        visible = [r for r in others if r.team in agent.teams]
        customer = {
            "name": person.name,
            "tier": person.tier,
            "identities": [
                {"channel": i.channel, "address": i.address, "verified": bool(i.verified)}
                for i in known
            ],
            "other_teams_conversations": len(others) - len(visible),
        }
        return customer, [_summary(r).to_json() for r in visible]

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
                    )
                    .outerjoin(outbox, outbox.c.message_id == messages.c.id)
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
            summary=_summary(row),
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
                )
                for m in message_rows
            ],
            routing=routed[-1] if routed else None,
            sla=clocks,
            customer=customer,
            history=history,
            events=trail,
        )

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
                    await conn.execute(_summary_query().where(conversations.c.id == candidate))
                ).one()
                return _summary(row)
        raise Conflict("the queue is too busy right now; try again")

    async def reply(
        self,
        agent: Agent,
        reference: int,
        text: str,
        *,
        seen: int | None = None,
        via: str | None = None,
    ) -> int:
        """Answers the customer on their channel; returns the message id.

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
            channel, address = await self._route_answer(conn, row, via)
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

    async def reassign(self, agent: Agent, reference: int, team: str) -> str:
        """Moves the conversation to another team; the first message becomes a routing
        example for that team (a correction). Returns that text."""
        if team not in self.team_names:
            raise NotFound(f"no team called {team!r}")
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            if row.team == team:
                raise Conflict(f"#{reference} is already with {team}")
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id)
                .values(team=team, assignee_id=None, updated_at=self.clock())
            )
            data = {"from": row.team, "to": team, "correction": True}
            await record_event(conn, row.id, "reassigned", agent.name, data)
            return await _teach(conn, row.id, team, "reassignment")

    async def assign(self, agent: Agent, reference: int, assignee: str | None) -> str | None:
        """Gives the conversation to a member of its team (``None``: to nobody)."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            assignee_id = None
            if assignee is not None:
                assignee_id = await conn.scalar(
                    select(agents.c.id)
                    .join(agent_teams, agent_teams.c.agent_id == agents.c.id)
                    .where(agents.c.name == assignee, agent_teams.c.team == row.team)
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

    async def teammates(self, agent: Agent) -> JsonRows:
        """The people who share a team with ``agent``, with those teams."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(agents.c.name, agent_teams.c.team)
                    .join(agent_teams, agent_teams.c.agent_id == agents.c.id)
                    .where(agent_teams.c.team.in_(agent.teams))
                    .order_by(agents.c.name, agent_teams.c.team)
                )
            ).all()
        found: dict[str, list[str]] = {}
        for r in rows:
            found.setdefault(r.name, []).append(r.team)
        return [{"name": n, "teams": t} for n, t in found.items()]

    async def confirm(self, agent: Agent, reference: int) -> tuple[str, str]:
        """Confirms the conversation is with the right team: its first message becomes a
        routing example for that team. Returns the team and the text."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference, lock=True)
            if row.team == self.fallback_team:
                raise Conflict(f"#{reference} is with {row.team}, which is no team to confirm")
            taught = await conn.scalar(
                select(routing_examples.c.id).where(routing_examples.c.conversation_id == row.id)
            )
            if taught is not None:
                raise Conflict(f"#{reference} has already taught the router")
            await record_event(conn, row.id, "routing_confirmed", agent.name, {"team": row.team})
            return row.team, await _teach(conn, row.id, row.team, "confirmation")

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
        """The first resolution of a conversation asks the customer for a rating, on
        their channel (once: a reopened and resolved again conversation is not asked)."""
        if self.rating_request is None:
            return
        asked = await conn.scalar(
            select(events.c.id).where(
                events.c.conversation_id == row.id, events.c.kind == "csat_requested"
            )
        )
        if asked is not None:
            return
        message_id = await queue_outbound(
            conn,
            conversation_id=row.id,
            channel=row.channel,
            address=row.address,
            text=self.rating_request(int(row.reference)),
            author="bot",
            kind="csat",
            subject=row.subject,
        )
        await record_event(conn, row.id, "csat_requested", "desk", {"message_id": message_id})

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


async def _teach(conn: AsyncConnection, conversation_id: int, team: str, source: str) -> str:
    """Stores the conversation's first message as a routing example for ``team``."""
    first = (
        await conn.execute(
            select(messages.c.subject, messages.c.text)
            .where(messages.c.conversation_id == conversation_id, messages.c.direction == "in")
            .order_by(messages.c.id)
            .limit(1)
        )
    ).one()
    text = embedding_text(first.subject, first.text)
    await conn.execute(
        insert(routing_examples).values(
            team=team,
            text=text,
            source=source,
            conversation_id=conversation_id,
            created_at=now(),
        )
    )
    return text


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
    if not theirs or any(r.channel != "form" or r.verified for r in theirs):
        return False
    typed = {r.address.split("#", 1)[0] for r in theirs}
    owned = {r.address.split("#", 1)[0] for r in rows if r.contact_id == target}
    return bool(typed & owned)
