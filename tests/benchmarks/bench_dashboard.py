"""Dashboard benchmark: a supervisor with N open conversations (500 by default) asks for
the dashboard page; how long until the whole page is received.

Run with ``scripts/bench-dashboard`` (or ``python -m tests.benchmarks.bench_dashboard``).
In one run it:

1. fills a fresh store through the real ingest transaction with N open conversations
   across every team (texts from the Bitext test set), a third of them assigned, and
   runs the SLA watcher at a clock that puts a share of them at risk or breached;
2. starts ``inbox serve`` on that store (the real process, the real model loaded);
3. signs a supervisor of every team in and fetches ``/supervisor`` R times in a row,
   then ``/supervisor/panel`` (what the live page fetches on each alert) R times.

It prints the latencies and the ratio of the p95 to the 300 ms target. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import update

from inbox import tomlwrite
from inbox.cli.bench import read_texts, start_service
from inbox.config.settings import parse_settings
from inbox.models import Envelope, Priority, RoutingDecision, TriageDecision
from inbox.pipeline.ingest.batch import IngestPlan, ingest_batch
from inbox.sla.watcher import SlaWatcher
from inbox.store.accounts import Accounts
from inbox.store.engine import create_engine, migrate
from inbox.store.sla_clocks import clocks_for
from inbox.store.tables import conversations
from tests.benchmarks.benching import latency
from tests.support.config import make_raw_config
from tests.support.paths import BITEXT_TEST
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http

TARGET_MS = 300.0


async def fill(raw: dict[str, Any], folder: Path, count: int, texts: list[str]) -> None:
    """N open conversations, some assigned, some at risk or breached."""
    settings = parse_settings(raw, folder)
    engine = create_engine(settings.store.url)
    await migrate(engine)
    teams = [t.name for t in settings.all_teams]
    accounts = Accounts(engine)
    agents = [(await accounts.add_agent(f"agent{i}", teams))[0] for i in range(8)]
    await accounts.add_agent("boss", teams, role="supervisor", password=TEST_PASSWORD)
    started = time.time() - 6 * 3600
    plans = []
    for i, (text, team) in enumerate(zip(itertools.cycle(texts), itertools.cycle(teams))):
        if i == count:
            break
        plans.append(
            IngestPlan(
                Envelope(
                    "form",
                    f"bench-{i}",
                    "email",
                    f"c{i}@bench.test",
                    text,
                    started + i * 20,
                    subject=text[:60],
                ),
                1000 + i,
                RoutingDecision(team, 0.9, team, 0.5, False, ()),
                TriageDecision(list(Priority)[i % 4], ()),
            )
        )
    for start in range(0, len(plans), 200):
        async with engine.begin() as conn:
            await ingest_batch(conn, plans[start : start + 200], settings, lambda _e: "standard")
    async with engine.begin() as conn:
        for i, agent in enumerate(agents):
            await conn.execute(
                update(conversations)
                .where(conversations.c.id % 24 == i)
                .values(assignee_id=agent.agent_id, status="open")
            )
    logging.getLogger("inbox.sla.watcher").setLevel(logging.ERROR)  # hundreds of alerts
    watcher = SlaWatcher(engine, clocks_for(settings))
    await watcher.check()
    await engine.dispose()


async def main(count: int, rounds: int) -> None:
    texts = read_texts(Path(BITEXT_TEST))
    with tempfile.TemporaryDirectory(prefix="inbox-bench-dashboard-") as tmp:
        raw = make_raw_config(Path(tmp))
        raw["web"]["port"] = 0
        config = Path(tmp) / "config.toml"
        config.write_text(tomlwrite.dumps(raw), encoding="utf-8")
        await fill(raw, Path(tmp), count, texts)
        proc, base = await start_service(config, stderr=open(os.devnull, "w"))  # noqa: SIM115
        try:
            async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
                await sign_in_http(http, base, "boss", TEST_PASSWORD)
                for path in ("/supervisor", "/supervisor/panel"):
                    times = []
                    for _ in range(rounds + 3):
                        begun = time.perf_counter()
                        async with http.get(base + path) as r:
                            body = await r.text()
                            assert r.status == 200, r.status
                        times.append((time.perf_counter() - begun) * 1000)
                    times = times[3:]  # the first requests warm caches
                    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
                    print(
                        f"{path} with {count} open conversations ({len(body)} bytes): "
                        f"{latency(times)}; p95 / {TARGET_MS:.0f} ms target = {p95 / TARGET_MS:.2f}"
                    )
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", "-n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.conversations, args.rounds))
