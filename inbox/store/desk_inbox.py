"""The desk's views and list: the conversations of an agent's teams by view (mine,
unassigned, each team, pending, resolved, SLA at risk), each with its count, a page at a
time, in SLA-due order, with who wrote, the last message and whether the agent has read it.

Only the page's rows are looked into (customer, last message, unread): a view of 50,000
conversations costs its count and one indexed, limited query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BotState
from inbox.errors import NotFound
from inbox.models import Status
from inbox.store.accounts import Agent
from inbox.store.desk_scope import DeskScope
from inbox.store.desk_views import ConversationSummary, summary_of, summary_query
from inbox.store.engine import now, reading
from inbox.store.tables import contacts, conversations, desk_reads, messages

PAGE = 50
PREVIEW = 140  # characters of the last message shown in the list
AT_RISK = ("warning", "breached")
RESOLVED = ("resolved", "Resolved")


@dataclass(frozen=True)
class View:
    """One view of the left pane: its key (in the page's address), label and count."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class ListRow:
    """A conversation in the middle pane."""

    summary: ConversationSummary
    customer: str  # the customer's name, else "" (the page shows the address)
    address: str  # where the conversation's answers go
    preview: str  # the customer's latest message, on one line
    last_author: str  # who wrote the latest message the customer sees: customer | agent | bot
    last_at: float
    unread: bool  # a customer message the agent has not opened yet


@dataclass(frozen=True)
class ListPage:
    """A page of a view, and how many there are in all."""

    view: str
    rows: list[ListRow]
    total: int
    offset: int
    limit: int


def _listed() -> ColumnElement[bool]:
    """Open and not held by the bot: what the desk lists, written with its values in the
    SQL as the list's partial index is (tables.DESK_LISTED), so the planner can use it."""
    c = conversations.c
    return and_(
        c.status != literal_column(f"'{Status.RESOLVED.value}'"),
        c.bot_state != literal_column(f"'{BotState.HOLDING.value}'"),
    )


class DeskInbox(DeskScope):
    """The views of the agent's teams and a page of each."""

    def _view_filter(self, agent: Agent, key: str) -> ColumnElement[bool]:
        """What a view holds, always within the agent's teams (and never what the bot
        still holds: that is nobody's work until it hands it off)."""
        c = conversations.c
        if key == "resolved":
            return and_(c.team.in_(agent.teams), c.status == Status.RESOLVED.value)
        return and_(c.team.in_(agent.teams), _listed(), self._within_listed(agent, key))

    def _within_listed(self, agent: Agent, key: str) -> ColumnElement[bool]:
        """What sets a view apart among the agent's listed conversations."""
        c = conversations.c
        if key == "all":
            return true()
        if key == "mine":
            return c.assignee_id == agent.agent_id
        if key == "unassigned":
            return and_(c.assignee_id.is_(None), c.status.in_(["new", "open"]))
        if key == "pending":
            return c.status == Status.PENDING.value
        if key == "at_risk":
            return c.sla_state.in_(AT_RISK)
        if key.startswith("team:") and key[5:] in agent.teams:
            return c.team == key[5:]
        raise NotFound(f"no view {key!r} in your desk")

    def view_keys(self, agent: Agent) -> list[tuple[str, str]]:
        """The views an agent has, in the order the left pane lists them."""
        keys = [("mine", "Mine"), ("unassigned", "Unassigned"), ("all", "All open")]
        keys += [(f"team:{t}", t) for t in agent.teams]
        return [*keys, ("at_risk", "SLA at risk"), ("pending", "Waiting on customer"), RESOLVED]

    async def views(self, agent: Agent) -> list[View]:
        """Every view with its count, all counted in one pass over the agent's teams'
        listed conversations (resolved ones are not counted: they only grow)."""
        keys = [(k, label) for k, label in self.view_keys(agent) if k != RESOLVED[0]]
        counts = [func.count().filter(self._within_listed(agent, k)) for k, _label in keys]
        query = select(*counts).where(conversations.c.team.in_(agent.teams), _listed())
        async with reading(self.engine) as conn:
            row = (await conn.execute(query)).one()
        found = [View(k, label, int(n or 0)) for (k, label), n in zip(keys, row, strict=True)]
        return [*found, View(*RESOLVED, -1)]

    async def page(
        self,
        agent: Agent,
        view: str = "all",
        *,
        offset: int = 0,
        limit: int = PAGE,
        total: int | None = None,
    ) -> ListPage:
        """One page of a view: SLA due first (those without a clock last), then priority
        and age; the resolved view newest first. ``total`` is the view's count when the
        caller has just counted it (``views``), else it is counted here."""
        query = self.page_query(agent, view, offset=offset, limit=limit)
        where = self._view_filter(agent, view)
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query)).all()
            if total is None:
                total = int(await conn.scalar(select(func.count()).where(where)) or 0)
            ids = [int(r.id) for r in rows]
            last = await _last_messages(conn, ids)
            asked = await _last_messages(conn, ids, customer=True)
            unread = await _unread(conn, agent, ids)
        return ListPage(
            view,
            [_row(r, last.get(int(r.id)), asked.get(int(r.id)), int(r.id) in unread) for r in rows],
            total,
            offset,
            limit,
        )

    def page_query(self, agent: Agent, view: str, *, offset: int, limit: int) -> Select[Any]:
        """A page of a view, in the list's order (from its index for all but resolved)."""
        c = conversations
        if view == "resolved":
            order: list[Any] = [c.c.updated_at.desc(), c.c.id.desc()]
        else:
            order = [c.c.sla_due.is_(None), c.c.sla_due, c.c.priority.desc(), c.c.created_at]
        query: Select[Any] = (
            summary_query()
            .add_columns(contacts.c.name.label("customer"))
            .join(contacts, contacts.c.id == c.c.contact_id)
            .where(self._view_filter(agent, view))
            .order_by(*order, c.c.id)
            .offset(max(0, offset))
            .limit(max(1, min(limit, 200)))
        )
        return query

    async def seen(self, agent: Agent, reference: int) -> None:
        """The agent opened the conversation: what is in it now is read."""
        async with self.engine.begin() as conn:
            row = await self._visible(conn, agent, reference)
            await self.mark_read(conn, agent, int(row.id))

    async def unread_mine(self, agent: Agent) -> int:
        """How many of the agent's own open conversations have a customer message they
        have not opened (the page's title and notifications count these)."""
        c = conversations
        newest = (
            select(func.max(messages.c.id))
            .where(messages.c.conversation_id == c.c.id, messages.c.direction == "in")
            .scalar_subquery()
        )
        read = (
            select(desk_reads.c.message_id)
            .where(desk_reads.c.conversation_id == c.c.id, desk_reads.c.agent_id == agent.agent_id)
            .scalar_subquery()
        )
        query = select(func.count()).where(
            self._view_filter(agent, "mine"), newest > func.coalesce(read, 0)
        )
        async with reading(self.engine) as conn:
            return int(await conn.scalar(query) or 0)

    async def mark_read(self, conn: AsyncConnection, agent: Agent, conversation_id: int) -> None:
        """Records that the agent has seen the conversation up to its newest message."""
        newest = await conn.scalar(
            select(func.max(messages.c.id)).where(messages.c.conversation_id == conversation_id)
        )
        if newest is None:
            return
        key = {"agent_id": agent.agent_id, "conversation_id": conversation_id}
        values = {"message_id": int(newest), "read_at": now()}
        updated = await conn.execute(
            desk_reads.update()
            .where(
                desk_reads.c.agent_id == agent.agent_id,
                desk_reads.c.conversation_id == conversation_id,
            )
            .values(**values)
        )
        if not updated.rowcount:
            await conn.execute(desk_reads.insert().values(**key, **values))


def _row(r: Any, last: Any | None, asked: Any | None, unread: bool) -> ListRow:
    text = " ".join(str(asked.text).split())[:PREVIEW] if asked is not None else ""
    return ListRow(
        summary=summary_of(r),
        customer=r.customer or "",
        address=r.address,
        preview=text,
        last_author=last.author if last is not None else "",
        last_at=float(last.created_at) if last is not None else float(r.created_at),
        unread=unread,
    )


async def _last_messages(
    conn: AsyncConnection, ids: Sequence[int], *, customer: bool = False
) -> dict[int, Any]:
    """The newest message of each conversation the customer sees (notes left out), or
    with ``customer`` the customer's own newest."""
    if not ids:
        return {}
    newest = (
        select(func.max(messages.c.id))
        .where(messages.c.conversation_id.in_(ids), messages.c.internal.is_(False))
        .group_by(messages.c.conversation_id)
    )
    if customer:
        newest = newest.where(messages.c.direction == "in")
    rows = await conn.execute(
        select(
            messages.c.conversation_id, messages.c.text, messages.c.author, messages.c.created_at
        ).where(messages.c.id.in_(newest.scalar_subquery()))
    )
    return {int(r.conversation_id): r for r in rows}


async def _unread(conn: AsyncConnection, agent: Agent, ids: Sequence[int]) -> set[int]:
    """The conversations with a customer message newer than what the agent has opened."""
    if not ids:
        return set()
    newest = (
        select(
            messages.c.conversation_id.label("conversation_id"),
            func.max(messages.c.id).label("newest"),
        )
        .where(messages.c.conversation_id.in_(ids), messages.c.direction == "in")
        .group_by(messages.c.conversation_id)
        .subquery()
    )
    rows = await conn.execute(
        select(newest.c.conversation_id)
        .outerjoin(
            desk_reads,
            and_(
                desk_reads.c.conversation_id == newest.c.conversation_id,
                desk_reads.c.agent_id == agent.agent_id,
            ),
        )
        .where((desk_reads.c.message_id.is_(None)) | (desk_reads.c.message_id < newest.c.newest))
    )
    return {int(r[0]) for r in rows}
