"""Desk benchmark: N conversations (50,000 by default) written through the real ingest
transaction (``bench_search.fill``: every team, every priority, named customers, 200 of
them assigned to the agent below and a tenth at SLA risk), then ``inbox serve`` on
that store (the real process and model) and an agent of three of the six teams fetching,
R times each, as the page does: the whole desk (``/agent``: views, counts, the first page
of the list), the list of a view (``/agent/queue?view=``: mine, unassigned, one team, SLA
at risk, page 11 of all open), and searches (``/agent/search?q=``).

Run with ``scripts/bench-desk [--store postgresql+asyncpg://...]`` (an empty database;
SQLite in a temporary folder by default). It prints each request's latency beside the
150 ms target (p95). Nothing is asserted. ``--fill-only`` fills the store and stops;
``--filled`` measures a store an earlier run filled (a PostgreSQL fill takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import text, update

from inbox import tomlwrite
from inbox.cli.bench import read_texts, start_service
from inbox.config.settings import parse_settings
from inbox.store.accounts import Accounts
from inbox.store.engine import create_engine, migrate
from inbox.store.tables import conversations, outbox, sla_timers
from tests.benchmarks.bench_search import fill
from tests.benchmarks.benching import latency
from tests.support.config import make_raw_config
from tests.support.paths import SHARED_DATA
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http

TARGET_MS = 150.0


def requests(teams: list[str]) -> list[str]:
    """What the agent fetches, as the page does."""
    return [
        "/agent",
        "/agent/queue?view=all",
        "/agent/queue?view=mine",
        "/agent/queue?view=unassigned",
        f"/agent/queue?view=team:{teams[0]}",
        "/agent/queue?view=at_risk",
        "/agent/queue?view=all&offset=500",
        "/agent/search?q=order",
        "/agent/search?q=refund+card",
        "/agent/search?q=%231500",
    ]


async def prepare(raw: dict[str, object], tmp: Path, count: int) -> list[str]:
    """Fills the store and makes the agent; returns the agent's teams."""
    settings = parse_settings(raw, tmp)
    engine = create_engine(settings.store.url)
    await migrate(engine)
    texts = read_texts(SHARED_DATA / "bitext-customer-service" / "train.csv")
    begun = time.perf_counter()
    await fill(engine, settings, count, texts)
    print(f"{count} conversations written in {time.perf_counter() - begun:.0f} s")
    teams = [t.name for t in settings.all_teams][:3]
    agent, _token = await Accounts(engine).add_agent("desk", teams, password=TEST_PASSWORD)
    stamp = time.time()
    async with engine.begin() as conn:
        # 200 assigned to the agent (a heavy load for one person); a tenth of all at SLA
        # risk, due soon.
        await conn.execute(
            update(conversations)
            .where(conversations.c.id % (count // 200) == 0)
            .values(assignee_id=agent.agent_id, status="open")
        )
        await conn.execute(
            update(conversations)
            .where(conversations.c.id % 10 == 1)
            .values(sla_state="warning", sla_due=stamp + 600)
        )
        # The steady state, not the first minutes after an outage: every alert already
        # raised, every acknowledgement delivered (else the service spends its first
        # minutes raising 150,000 alerts; see the SLA watcher's batches).
        await conn.execute(
            update(sla_timers).values(warned_at=stamp, breached_at=stamp, escalated_at=stamp)
        )
        await conn.execute(update(outbox).values(state="sent", sent_at=stamp))
    if engine.dialect.name == "postgresql":
        # The planner's statistics as autovacuum keeps them on a running server (this
        # machine's PostgreSQL runs with autovacuum off: a fresh fill would be planned as
        # an empty table).
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return teams


async def main(count: int, rounds: int, store: str, filled: bool, fill_only: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="inbox-bench-desk-") as folder:
        tmp = Path(folder)
        raw = make_raw_config(tmp)
        raw["web"]["port"] = 0
        if store:
            raw["store"]["url"] = store
        if filled:
            teams = [t.name for t in parse_settings(raw, tmp).all_teams][:3]
        else:
            teams = await prepare(raw, tmp, count)
        if fill_only:
            return
        config = tmp / "config.toml"
        config.write_text(tomlwrite.dumps(raw), encoding="utf-8")
        proc, base = await start_service(config, stderr=None)  # its log on this stderr
        try:
            async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
                await sign_in_http(http, base, "desk", TEST_PASSWORD)
                for path in requests(teams):
                    times = []
                    for _ in range(rounds + 3):
                        begun = time.perf_counter()
                        async with http.get(base + path) as r:
                            body = await r.text()
                            assert r.status == 200, (path, r.status)
                        times.append((time.perf_counter() - begun) * 1000)
                    times = times[3:]  # the first requests warm caches
                    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
                    print(
                        f"{path:36} ({len(body):6} bytes): {latency(times)}; "
                        f"p95 / {TARGET_MS:.0f} ms = {p95 / TARGET_MS:.2f}"
                    )
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", "-n", type=int, default=50_000)
    parser.add_argument("--rounds", "-r", type=int, default=40)
    parser.add_argument("--store", default="", help="a store URL (default: SQLite in a temp dir)")
    parser.add_argument(
        "--filled", action="store_true", help="the store was filled by an earlier run: measure only"
    )
    parser.add_argument("--fill-only", action="store_true", help="fill the store, measure nothing")
    args = parser.parse_args()
    asyncio.run(main(args.conversations, args.rounds, args.store, args.filled, args.fill_only))
