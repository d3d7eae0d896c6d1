"""The store's planner statistics are kept (inbox.store.statistics): a SQLite store is
analyzed at start, after which the desk's list is read in order from its index instead of
sorted; a PostgreSQL server with autovacuum off is named in the log and analyzed too."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings
from inbox.models import Envelope
from inbox.store.accounts import Agent
from inbox.store.desk import Desk
from inbox.store.statistics import autovacuum_is_on, keep_statistics
from inbox.store.tables import conversations
from tests.support.tickets import ingest_tickets, migrated_engine
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def _fill(engine: AsyncEngine, settings: Settings, teams: list[str]) -> None:
    """200 tickets across the teams, each with an SLA clock."""
    stamp = time.time()
    mails = [
        Envelope("scripted", f"m-{i}", "scripted", f"c{i}", f"Question {i}", stamp)
        for i in range(200)
    ]
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, mails, first_reference=1000)
        c = conversations.c
        for i, team in enumerate(teams):
            await conn.execute(
                update(conversations)
                .where(c.id % len(teams) == i)
                .values(team=team, sla_due=c.id * 60.0 + stamp, sla_state="ok")
            )


async def _list_plan(engine: AsyncEngine, desk: Desk, agent: Agent) -> str:
    query = desk.page_query(agent, "all", offset=0, limit=50)
    compiled = query.compile(engine, compile_kwargs={"render_postcompile": True})
    values = tuple(compiled.params[name] for name in compiled.positiontup or [])
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
        return "\n".join(str(r[-1]) for r in rows)


async def _analyzed(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = await conn.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            )
            return bool(found) and bool(
                await conn.scalar(text("SELECT count(*) FROM sqlite_stat1"))
            )
        analyzed = await conn.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'conversations'")
        )
        return analyzed is not None


async def test_the_store_is_analyzed_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await migrated_engine(settings)
    teams = [t.name for t in settings.all_teams]
    await _fill(engine, settings, teams)
    desk, agent = Desk(engine, set(teams)), Agent(1, "ivy", tuple(teams[:3]))
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:  # never analyzed: the list is sorted
        assert "TEMP B-TREE FOR ORDER BY" in await _list_plan(engine, desk, agent)
    autovacuum = await autovacuum_is_on(engine)
    stopping = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="inbox.store.statistics")
    task = asyncio.create_task(keep_statistics(engine, stopping))
    try:
        if sqlite or not autovacuum:
            await until(lambda: _analyzed(engine))
        else:  # autovacuum's job: the task has nothing to do
            await asyncio.wait_for(task, 10)
    finally:
        stopping.set()
        await task
        await engine.dispose()
    warned = any("autovacuum off" in r.getMessage() for r in caplog.records)
    assert warned == (not autovacuum)
    if sqlite:
        engine = await migrated_engine(settings)
        try:
            plan = await _list_plan(engine, desk, agent)
        finally:
            await engine.dispose()
        assert "ix_conversations_desk_order" in plan and "TEMP B-TREE" not in plan, plan
