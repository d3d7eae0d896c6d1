"""The desk's views and list on both back-ends: what each view holds and counts, the
SLA-due order a page at a time, unread marks, the customer's name and notes — and never
a conversation of another team."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings
from inbox.errors import NotFound
from inbox.models import Envelope
from inbox.store.account_admin import AccountAdmin
from inbox.store.accounts import Accounts, Agent
from inbox.store.desk import Desk
from inbox.store.tables import conversations, events, messages
from tests.support.tickets import ingest_tickets, migrated_engine

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
    async with engine.begin() as conn:
        conversation_id = await conn.scalar(
            text("SELECT id FROM conversations WHERE reference = 101")
        )
        await conn.execute(
            insert(messages).values(
                conversation_id=conversation_id,
                direction="in",
                channel="scripted",
                external_id="m-101-again",
                author="customer",
                internal=False,
                subject="",
                text="Any news?",
                created_at=time.time(),
            )
        )
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
