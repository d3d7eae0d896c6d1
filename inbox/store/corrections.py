"""What agents taught the router, and a supervisor's control of it.

A reassignment (or a confirmed routing) stores the conversation's first message as an
example for a team: a correction. With ``[routing] corrections = "immediate"`` it is
active at once and the routers learn it before their next batch; with ``"review"`` it
is pending until a supervisor approves it. A supervisor undoes an active correction or
rejects a pending one; the routers then route as if it had never been made. Every
decision is kept on the row (who, when) and as an event on its conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.config.settings import CorrectionMode
from inbox.errors import Conflict, NotFound
from inbox.store.engine import now
from inbox.store.tables import conversations, messages, routing_examples
from inbox.store.writes import record_event
from inbox.text import embedding_text

CorrectionState = Literal["active", "pending", "undone", "rejected"]
Decision = Literal["undo", "approve", "reject"]
# A decision: the state it needs, the state it leaves, and its event on the conversation.
_DECISIONS: dict[Decision, tuple[CorrectionState, CorrectionState, str]] = {
    "undo": ("active", "undone", "correction_undone"),
    "approve": ("pending", "active", "correction_approved"),
    "reject": ("pending", "rejected", "correction_rejected"),
}


@dataclass(frozen=True)
class Correction:
    """One example an agent taught the router, as the corrections page lists it."""

    correction_id: int
    team: str
    from_team: str | None  # None: taught before this was recorded
    text: str
    source: str  # reassignment | confirmation
    taught_by: str | None
    created_at: float
    state: CorrectionState
    decided_by: str | None
    decided_at: float | None
    reference: int | None  # the ticket it came from


@dataclass(frozen=True)
class Taught:
    """An example the routers learn now: an active correction."""

    correction_id: int
    team: str
    text: str


async def record_correction(
    conn: AsyncConnection,
    conversation_id: int,
    team: str,
    source: str,
    *,
    by: str,
    from_team: str,
    mode: CorrectionMode,
) -> str:
    """Stores the conversation's first message as an example for ``team``: active at
    once, or pending a review. Returns that text."""
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
            state="pending" if mode == "review" else "active",
            from_team=from_team,
            taught_by=by,
        )
    )
    return text


async def active_corrections(conn: AsyncConnection) -> list[Taught]:
    """Every correction the routers learn now, oldest first."""
    rows = await conn.execute(
        select(routing_examples.c.id, routing_examples.c.team, routing_examples.c.text)
        .where(routing_examples.c.state == "active")
        .order_by(routing_examples.c.id)
    )
    return [Taught(int(r.id), r.team, r.text) for r in rows]


async def active_ids(conn: AsyncConnection) -> set[int]:
    """The ids of the active corrections (a worker's look before each batch)."""
    rows = await conn.execute(
        select(routing_examples.c.id).where(routing_examples.c.state == "active")
    )
    return {int(r.id) for r in rows}


async def taught_texts(conn: AsyncConnection, ids: set[int]) -> list[Taught]:
    """The corrections with these ids, oldest first."""
    if not ids:
        return []
    rows = await conn.execute(
        select(routing_examples.c.id, routing_examples.c.team, routing_examples.c.text)
        .where(routing_examples.c.id.in_(sorted(ids)))
        .order_by(routing_examples.c.id)
    )
    return [Taught(int(r.id), r.team, r.text) for r in rows]


async def list_corrections(engine: AsyncEngine, limit: int) -> list[Correction]:
    """The latest corrections, those waiting for a review first, newest first."""
    query = (
        select(routing_examples, conversations.c.reference)
        .outerjoin(conversations, conversations.c.id == routing_examples.c.conversation_id)
        .order_by((routing_examples.c.state == "pending").desc(), routing_examples.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_correction(r) for r in rows]


def _correction(r: Any) -> Correction:
    return Correction(
        correction_id=int(r.id),
        team=r.team,
        from_team=r.from_team,
        text=r.text,
        source=r.source,
        taught_by=r.taught_by,
        created_at=float(r.created_at),
        state=r.state,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        reference=r.reference,
    )


async def decide(engine: AsyncEngine, correction_id: int, decision: Decision, by: str) -> None:
    """Undoes an active correction, or approves or rejects a pending one; records who
    did it and when, on the row and on its conversation. Refused (``Conflict``) when the
    correction is not in the state the decision needs."""
    needed, leaves, kind = _DECISIONS[decision]
    async with engine.begin() as conn:
        done = await conn.execute(
            update(routing_examples)
            .where(routing_examples.c.id == correction_id, routing_examples.c.state == needed)
            .values(state=leaves, decided_by=by, decided_at=now())
        )
        row = (
            await conn.execute(
                select(routing_examples).where(routing_examples.c.id == correction_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"no correction {correction_id}")
        if done.rowcount != 1:
            who = f" by {row.decided_by}" if row.decided_by else ""
            raise Conflict(f"correction {correction_id} is {row.state}{who}: cannot {decision} it")
        if row.conversation_id is not None:
            data = {"correction": correction_id, "team": row.team, "text": row.text[:200]}
            await record_event(conn, int(row.conversation_id), kind, by, data)
