"""The desk's views and list on both back-ends: what each view holds and counts, the
SLA-due order a page at a time, unread marks, the customer's name and notes — and never
a conversation of another team."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.config.settings import Settings
from inbox.errors import NotFound
from inbox.models import Envelope
from inbox.store.account_admin import AccountAdmin
from inbox.store.accounts import Accounts, Agent
from inbox.store.desk import Desk
from inbox.store.tables import conversations, events
from tests.support.tickets import customer_writes, ingest_tickets, migrated_engine

pytestmark = pytest.mark.both_backends

# reference: (team, SLA due in hours or None, status, assigned to the agent)
TICKETS = {
    100: ("billing", 3.0, "new", False),
    101: ("billing", 1.0, "open", True),
    102: ("orders", None, "new", False),
    103: ("orders", 2.0, "pending", True),
    104: ("billing", 0.5, "resolved", False),
    105: ("accounts", 0.1, "new", False),  # another team's
}


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(settings)
    yield engine
    await engine.dispose()


async def _desk(engine: AsyncEngine, settings: Settings) -> tuple[Desk, Agent]:
    agent, _token = await Accounts(engine).add_agent("ivy", ["billing", "orders"])
    stamp = time.time()
    mails = [
        Envelope("scripted", f"m-{ref}", "scripted", f"c{ref}", f"Question {ref}", stamp)
        for ref in TICKETS
    ]
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, mails, first_reference=100)
        for ref, (team, due, status, mine) in TICKETS.items():
            await conn.execute(
                update(conversations)
                .where(conversations.c.reference == ref)
                .values(
                    team=team,
                    status=status,
                    sla_due=stamp + due * 3600 if due is not None else None,
                    sla_state="ok" if due is not None else None,
                    assignee_id=agent.agent_id if mine else None,
                )
            )
    return Desk(engine, {t.name for t in settings.all_teams}), agent


async def test_views_count_and_order_within_the_agents_teams(
    engine: AsyncEngine, settings: Settings
) -> None:
    desk, agent = await _desk(engine, settings)
    counts = {v.key: v.count for v in await desk.views(agent)}
    assert counts == {
        "mine": 2,
        "unassigned": 2,
        "all": 4,
        "team:billing": 2,
        "team:orders": 2,
        "at_risk": 0,
        "pending": 1,
        "resolved": -1,  # not counted: it only grows
    }
    page = await desk.page(agent, "all")
    # SLA due first, soonest first; the one without a clock last.
    assert [r.summary.reference for r in page.rows] == [101, 103, 100, 102]
    assert page.total == 4
    assert [r.summary.reference for r in (await desk.page(agent, "resolved")).rows] == [104]
    assert [r.summary.reference for r in (await desk.page(agent, "mine")).rows] == [101, 103]
    first = await desk.page(agent, "all", offset=0, limit=3)
    rest = await desk.page(agent, "all", offset=3, limit=3)
    assert [r.summary.reference for r in first.rows + rest.rows] == [101, 103, 100, 102]
    assert first.total == rest.total == 4

    # Another team's conversation is in no view, and no view of it exists.
    for key in counts:
        refs = [r.summary.reference for r in (await desk.page(agent, key, limit=200)).rows]
        assert 105 not in refs
    with pytest.raises(NotFound):
        await desk.page(agent, "team:accounts")


async def test_unread_until_opened_and_again_when_the_customer_writes(
    engine: AsyncEngine, settings: Settings
) -> None:
    desk, agent = await _desk(engine, settings)
    row = next(r for r in (await desk.page(agent, "mine")).rows if r.summary.reference == 101)
    assert row.unread and row.preview == "Question 101" and row.last_author == "bot"
    assert await desk.unread_mine(agent) == 2
    await desk.seen(agent, 101)
    assert await desk.unread_mine(agent) == 1
    await customer_writes(engine, 101, "Any news?", external_id="m-101-again")
    row = next(r for r in (await desk.page(agent, "mine")).rows if r.summary.reference == 101)
    assert row.unread and row.preview == "Any news?" and row.last_author == "customer"
    assert await desk.unread_mine(agent) == 2
    with pytest.raises(NotFound):
        await desk.seen(agent, 105)


async def test_the_customers_name_and_notes(engine: AsyncEngine, settings: Settings) -> None:
    desk, agent = await _desk(engine, settings)
    await desk.edit_customer(agent, 100, "Carla Ruiz", "Prefers email. VIP since 2024.")
    view = await desk.view(agent, 100)
    assert (view.customer["name"], view.customer["notes"]) == (
        "Carla Ruiz",
        "Prefers email. VIP since 2024.",
    )
    (listed,) = [r for r in (await desk.page(agent, "all")).rows if r.summary.reference == 100]
    assert listed.customer == "Carla Ruiz"
    async with engine.connect() as conn:
        edits = (
            await conn.execute(events.select().where(events.c.kind == "customer_edited"))
        ).all()
    assert [(e.actor, e.data["name"]) for e in edits] == [("ivy", "Carla Ruiz")]
    with pytest.raises(NotFound):
        await desk.edit_customer(agent, 105, "Someone else", "")


async def test_a_disabled_person_is_not_offered_nor_assignable(
    engine: AsyncEngine, settings: Settings
) -> None:
    desk, agent = await _desk(engine, settings)
    await Accounts(engine).add_agent("joe", ["billing"])
    assert "joe" in [p["name"] for p in await desk.teammates(agent)]
    await AccountAdmin(engine).disable("ivy", "joe")
    assert "joe" not in [p["name"] for p in await desk.teammates(agent)]
    with pytest.raises(NotFound):
        await desk.assign(agent, 100, "joe")


async def test_a_page_is_read_in_order_from_the_lists_index(
    engine: AsyncEngine, settings: Settings
) -> None:
    """The list's order comes from its partial index (migration 0023), not from sorting
    every open conversation of the agent's teams: the conditions must be written so the
    planner can prove the index applies (their values in the SQL, not parameters)."""
    desk, agent = await _desk(engine, settings)
    for view in ("all", "unassigned", "team:billing", "at_risk"):
        query = desk.page_query(agent, view, offset=0, limit=50)
        compiled = query.compile(engine, compile_kwargs={"render_postcompile": True})
        values = [compiled.params[name] for name in compiled.positiontup or []]
        async with engine.connect() as conn:
            plan = await _plan(conn, str(compiled), values)
        assert "ix_conversations_desk_order" in plan, plan
        assert "Sort" not in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan


async def _plan(conn: AsyncConnection, sql: str, values: list[object]) -> str:
    """The plan of ``sql`` as the desk runs it: with its parameters bound, not written in."""
    if conn.dialect.name == "postgresql":
        # A generic plan (what a prepared statement may settle on), on a store large
        # enough that sorting costs more than reading an index in order.
        await conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        await conn.execute(text("SET enable_sort = off"))
        await conn.exec_driver_sql(f"PREPARE page AS {sql}")
        args = ", ".join(_sql_literal(v) for v in values)
        rows = await conn.exec_driver_sql(f"EXPLAIN EXECUTE page({args})")
        plan = "\n".join(str(r[0]) for r in rows)
        await conn.exec_driver_sql("DEALLOCATE page")
        return plan
    # A small table is cheaper to sort; SQLite refuses INDEXED BY (no query solution)
    # unless the query's conditions imply the partial index's.
    forced = sql.replace(
        "FROM conversations ", "FROM conversations INDEXED BY ix_conversations_desk_order ", 1
    )
    rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {forced}", tuple(values))
    return "\n".join(str(r[-1]) for r in rows)


def _sql_literal(value: object) -> str:
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
