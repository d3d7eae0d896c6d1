"""Search across the conversations of an agent's teams: by a word of any message (notes
included: agents are staff), by ticket number (aliases too), by the customer's address or
name; with filters, a page at a time, one row per conversation in the list's row shape.

Every way in is an index: FTS5 (SQLite) or a GIN index on the 'simple' tsvector
(PostgreSQL) for words, ``conversation_refs``' key for a number, ``lower(address)`` and
``lower(name)`` prefixes for customers (see migration 0022). Matches are joined to
conversations only after, and always within the agent's teams: another team's
conversation is never a result, nor counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    func,
    literal,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from inbox.models import Priority
from inbox.store.accounts import Agent
from inbox.store.desk_inbox import PAGE, ListRow, _last_messages, _row, _unread
from inbox.store.desk_scope import DeskScope
from inbox.store.desk_views import summary_query
from inbox.store.engine import reading
from inbox.store.search_terms import PG_DOCUMENT, SearchTerms
from inbox.store.tables import agents, contacts, conversation_refs, conversations, identities
from inbox.store.tables import messages as messages_table

SLA_STATES = ("ok", "warning", "breached", "paused", "none")
UNASSIGNED = "none"
MIN_CUSTOMER_PREFIX = 3  # fewer letters than this would match customers by the thousand
# How a match ranks: the ticket asked for, then the customer, then words of the text.
TICKET, CUSTOMER, WORDS = 0, 1, 2
_fts = table("messages_fts", column("rowid"))


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search; "" (or None) is "any"."""

    status: str = ""
    team: str = ""
    assignee: str = ""  # an agent's name, or "none" for unassigned
    channel: str = ""
    priority: str = ""  # low | normal | high | urgent
    sla_state: str = ""  # ok | warning | breached | paused | none (no clock)
    since: float | None = None  # created at or after
    until: float | None = None  # created before


@dataclass(frozen=True)
class SearchPage:
    """A page of results, and how many there are in all."""

    query: str
    rows: list[ListRow]
    total: int
    offset: int
    limit: int


class DeskSearch(DeskScope):
    """Conversations found by what an agent typed, within the agent's teams."""

    async def search(
        self,
        agent: Agent,
        typed: str,
        filters: SearchFilters | None = None,
        *,
        offset: int = 0,
        limit: int = PAGE,
    ) -> SearchPage:
        """Best match first (the ticket, the customer, then words), newest activity first
        among equals. An empty search with filters lists what the filters hold."""
        offset, limit = max(0, offset), max(1, min(limit, 200))
        async with reading(self.engine) as conn:
            statements = search_statements(
                agent, typed, filters or SearchFilters(), conn.dialect.name
            )
            if statements is None:
                return SearchPage(typed, [], 0, offset, limit)
            chosen = (await conn.execute(statements.ids.offset(offset).limit(limit))).all()
            if chosen:
                total = int(chosen[0].total)
            else:  # past the end (or nothing): the count alone
                total = int(await conn.scalar(statements.count) or 0) if offset else 0
            ids = [int(r.id) for r in chosen]
            rows = (
                await conn.execute(
                    summary_query()
                    .add_columns(contacts.c.name.label("customer"))
                    .join(contacts, contacts.c.id == conversations.c.contact_id)
                    .where(conversations.c.id.in_(ids))
                )
            ).all()
            by_id = {int(r.id): r for r in rows}
            found = await _list_rows(conn, agent, [by_id[i] for i in ids if i in by_id])
        return SearchPage(typed, found, total, offset, limit)


@dataclass(frozen=True)
class SearchStatements:
    """A search's queries: the ids of its conversations in order, each row with the total
    (``count(*) OVER ()``: one pass gives the page and the count), to be paged; and the
    count alone, for a page past the end."""

    ids: Select[Any]
    count: Select[Any]


def search_statements(
    agent: Agent, typed: str, filters: SearchFilters, dialect: str
) -> SearchStatements | None:
    """The queries of a search on ``dialect`` (sqlite | postgresql), or None when nothing
    typed can match (a lone "#"). Only ids, rank and the sort keys go through the sort;
    the page's 50 rows are read whole after."""
    terms = SearchTerms.parse(typed)
    c = conversations
    where = and_(c.c.team.in_(agent.teams), *_narrowed(filters, agent))
    total = func.count().over().label("total")
    if terms.empty:
        ids = select(c.c.id, total).where(where).order_by(c.c.updated_at.desc(), c.c.id.desc())
        counted = select(func.count()).select_from(c).where(where)
        return SearchStatements(ids, counted)
    matches = _matches(terms, dialect)
    if matches is None:
        return None
    best = (
        select(matches.c.conversation_id, func.min(matches.c.rank).label("rank"))
        .group_by(matches.c.conversation_id)
        .subquery("best")
    )
    joined = c.join(best, best.c.conversation_id == c.c.id)
    ids = (
        select(c.c.id, total)
        .select_from(joined)
        .where(where)
        .order_by(best.c.rank, c.c.updated_at.desc(), c.c.id.desc())
    )
    return SearchStatements(ids, select(func.count()).select_from(joined).where(where))


def _matches(terms: SearchTerms, dialect: str) -> Any | None:
    """``(conversation_id, rank)`` for every way the terms match, or None when none can."""
    parts: list[Select[Any]] = []
    if terms.ticket is not None:
        parts.append(
            select(
                conversation_refs.c.conversation_id.label("conversation_id"),
                literal(TICKET).label("rank"),
            ).where(conversation_refs.c.reference == terms.ticket)
        )
    if len(terms.whole) >= MIN_CUSTOMER_PREFIX:
        customers = (
            select(identities.c.contact_id).where(_starts(identities.c.address, terms, dialect))
        ).union(select(contacts.c.id).where(_starts(contacts.c.name, terms, dialect)))
        parts.append(
            select(
                conversations.c.id.label("conversation_id"), literal(CUSTOMER).label("rank")
            ).where(conversations.c.contact_id.in_(customers.scalar_subquery()))
        )
    if terms.words:
        m = messages_table
        if dialect == "sqlite":
            hits: ColumnElement[bool] | TextClause = m.c.id.in_(
                select(_fts.c.rowid).where(
                    text("messages_fts MATCH :fts").bindparams(fts=terms.fts5())
                )
            )
        else:
            hits = text(f"{PG_DOCUMENT} @@ to_tsquery('simple', :tsq)").bindparams(
                tsq=terms.tsquery()
            )
        parts.append(
            select(
                m.c.conversation_id.label("conversation_id"), literal(WORDS).label("rank")
            ).where(hits)
        )
    if not parts:
        return None
    return union_all(*parts).subquery("matches")


def _starts(value: Any, terms: SearchTerms, dialect: str) -> ColumnElement[bool]:
    """``lower(value)`` begins with what was typed, by an index on ``lower(value)``: a
    range on SQLite (whose LIKE cannot use it), LIKE on PostgreSQL (text_pattern_ops)."""
    lowered = func.lower(value)
    if dialect == "sqlite":
        ranges = [
            and_(lowered >= prefix, lowered < prefix + "\U0010ffff")
            for prefix in terms.sqlite_prefixes
        ]
        return or_(*ranges)
    escaped = terms.whole.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return lowered.like(escaped + "%", escape="\\")


def _narrowed(f: SearchFilters, agent: Agent) -> list[ColumnElement[bool]]:
    """The filters as conditions on conversations (the web edge has checked the values)."""
    c = conversations
    found: list[ColumnElement[bool]] = []
    if f.status:
        found.append(c.c.status == f.status)
    if f.team:
        found.append(c.c.team == f.team)
    if f.assignee == UNASSIGNED:
        found.append(c.c.assignee_id.is_(None))
    elif f.assignee:
        found.append(
            c.c.assignee_id
            == select(agents.c.id).where(agents.c.name == f.assignee).scalar_subquery()
        )
    if f.channel:
        found.append(c.c.channel == f.channel)
    if f.priority:
        found.append(c.c.priority == Priority[f.priority.upper()].value)
    if f.sla_state == "none":
        found.append(c.c.sla_state.is_(None))
    elif f.sla_state:
        found.append(c.c.sla_state == f.sla_state)
    if f.since is not None:
        found.append(c.c.created_at >= f.since)
    if f.until is not None:
        found.append(c.c.created_at < f.until)
    return found


async def _list_rows(conn: AsyncConnection, agent: Agent, rows: Sequence[Any]) -> list[ListRow]:
    """The rows as the list shows them: customer, latest words, unread mark."""
    ids = [int(r.id) for r in rows]
    last = await _last_messages(conn, ids)
    asked = await _last_messages(conn, ids, customer=True)
    unread = await _unread(conn, agent, ids)
    return [_row(r, last.get(int(r.id)), asked.get(int(r.id)), int(r.id) in unread) for r in rows]
