"""Answer-ledger benchmark: ``inbox ledger --check`` on a store of N conversations (100,000
by default) spread over the ledger's look-back (``[ledger] days``, 30); wall time and peak
memory.

Run with ``scripts/bench-ledger`` (or ``python -m tests.benchmarks.bench_ledger``);
``--postgres`` for the scaled back-end (PostgreSQL store, Redis queue). In one run it:

1. fills a fresh store (a SQLite file, or a database created on the PostgreSQL server for
   the run and dropped after) with N conversations and what comes with them, in the
   shapes the product writes (see ``tests/benchmarks/ledger_store.py``): 1-3 customer
   messages each, acknowledgements, the bot's and agents' answers, audit events, bot
   commands with their answers, a few hundred quarantine entries, dead letters in the
   queue. Seeding is not measured;
2. runs the real command ``inbox --config FILE ledger --check`` as a child process R
   times (3 by default), then ``inbox ledger --json`` once: each one's wall time and peak
   resident memory (the child's own ``ru_maxrss``, from ``wait4``), and what it counted;
3. times ``ledger_report`` in this process, and its parts: the queries and what is built
   from their rows.

It prints the figures and their ratio to 30 s and 1 GiB. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import redis

from inbox import tomlwrite
from inbox.cli.bench import read_texts
from inbox.config.settings import Settings, parse_settings
from inbox.queue import open_queue
from inbox.store import ledger
from inbox.store.engine import create_engine, migrate
from tests.benchmarks.ledger_store import Counts, fill_store
from tests.support.backends import POSTGRES, REDIS
from tests.support.config import make_raw_config
from tests.support.paths import BITEXT_TEST, ROOT

LIMIT_SECONDS = 30.0
LIMIT_BYTES = 1 << 30
INBOX = Path(sys.executable).with_name("inbox")  # the venv's console script


@dataclass(frozen=True)
class Run:
    """One child process: its wall time, CPU time (its own: not the database server's),
    peak RSS, exit code and first line."""

    seconds: float
    cpu_seconds: float
    peak_bytes: int
    code: int
    said: str

    def line(self) -> str:
        return (
            f"{self.seconds:6.2f} s ({self.seconds / LIMIT_SECONDS:.2f} of 30 s), "
            f"CPU {self.cpu_seconds:5.2f} s, "
            f"peak RSS {self.peak_bytes / 2**20:5.0f} MiB "
            f"({self.peak_bytes / LIMIT_BYTES:.2f} of 1 GiB), exit {self.code}: {self.said}"
        )


def run_child(config: Path, args: list[str], folder: Path, env: dict[str, str]) -> Run:
    """``inbox --config CONFIG ARGS``, its output to a file; timed and measured."""
    out_path = folder / "out.txt"
    with out_path.open("wb") as out:
        begun = time.perf_counter()
        proc = subprocess.Popen(
            [str(INBOX), "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - begun
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text(encoding="utf-8", errors="replace")
    if "--json" in args:
        try:
            shown = json.loads(text)
            said = f"{shown['contacts']} contacts, {len(shown['unanswered'])} unanswered"
        except (ValueError, KeyError):
            said = text[:300]
    else:
        said = text.splitlines()[0] if text else ""
    # ru_maxrss is in KiB on Linux.
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss * 1024, proc.returncode, said)


async def in_process(settings: Settings) -> None:
    """``ledger_report`` timed here, then its queries and its Python side one by one."""
    queue = await open_queue(settings.queue)
    try:
        dead = await queue.dead_letters(ledger.DEAD_LETTERS_READ)
    finally:
        await queue.close()
    engine = create_engine(settings.store.url)
    try:
        for _ in range(2):
            begun = time.perf_counter()
            report = await ledger.ledger_report(engine, settings.ledger, dead, time.time())
            total = time.perf_counter() - begun
            print(
                f"  ledger_report in process: {total:.2f} s, {len(report.entries)} contacts, "
                f"{len(report.unanswered)} unanswered"
            )
        since = time.time() - settings.ledger.days * 86400
        async with engine.connect() as conn:
            parts: list[tuple[str, Any]] = [
                ("answers (outbox rows of those conversations)", ledger._answers(conn, since)),
                ("suppressed (events)", ledger._suppressed(conn, since)),
                (
                    "customer messages (the two above included)",
                    ledger._message_entries(conn, since),
                ),
                ("commands and their service answers", ledger._command_entries(conn, since)),
                ("quarantine", ledger._quarantine_entries(conn, since)),
            ]
            for name, step in parts:
                begun = time.perf_counter()
                found = await step
                print(f"    {name}: {time.perf_counter() - begun:.2f} s, {len(found)} rows")
    finally:
        await engine.dispose()


async def _create_database(admin: str) -> tuple[str, str]:
    name = f"inbox_bench_ledger_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, "postgresql+asyncpg" + admin.rsplit("/", 1)[0][len("postgresql") :] + "/" + name


async def _drop_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _drop_queue(url: str, name: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="{" + name + "}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def _fill(settings: Settings, count: int) -> Counts:
    engine = create_engine(settings.store.url)
    try:
        await migrate(engine)
        return await fill_store(engine, settings, count, read_texts(Path(BITEXT_TEST)))
    finally:
        await engine.dispose()


def bench(folder: Path, args: argparse.Namespace) -> None:
    raw = make_raw_config(folder)
    raw["channels"]["telegram"] = {"token_env": "BENCH_TELEGRAM_TOKEN"}
    # PYTHONPATH: the child runs this checkout's code (the venv's package may be another's).
    env = {
        **os.environ,
        "BENCH_TELEGRAM_TOKEN": "1:bench",
        "INBOX_SECRET": "bench",
        "PYTHONPATH": str(ROOT),
    }
    database = queue_name = ""
    if args.postgres:
        database, raw["store"]["url"] = asyncio.run(_create_database(args.postgres_url))
        queue_name = f"bench-ledger-{uuid.uuid4().hex[:8]}"
        raw["queue"].update(url=args.redis_url, name=queue_name)
    try:
        config = folder / "config.toml"
        config.write_text(tomlwrite.dumps(raw), encoding="utf-8")
        os.environ["BENCH_TELEGRAM_TOKEN"] = env["BENCH_TELEGRAM_TOKEN"]
        settings = parse_settings(raw, folder)
        backend = "PostgreSQL + Redis" if args.postgres else "SQLite + SQLite queue"
        print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"{backend}: filling a store with {args.conversations:,} conversations ...")
        begun = time.perf_counter()
        counts = asyncio.run(_fill(settings, args.conversations))
        print(f"  filled in {time.perf_counter() - begun:.0f} s: {counts}")
        if not args.postgres:
            size = (folder / "inbox.db").stat().st_size
            print(f"  store file: {size / 2**20:.0f} MiB")
        for i in range(args.runs):
            run = run_child(config, ["ledger", "--check"], folder, env)
            print(f"  ledger --check #{i + 1}: {run.line()}")
        run = run_child(config, ["ledger", "--json"], folder, env)
        print(f"  ledger --json:     {run.line()}")
        asyncio.run(in_process(settings))
    finally:
        if database:
            asyncio.run(_drop_database(args.postgres_url, database))
        if queue_name:
            _drop_queue(args.redis_url, queue_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", "-n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL store, Redis queue")
    parser.add_argument(
        "--postgres-url", default=POSTGRES, help="the server's admin database (a fresh one is made)"
    )
    parser.add_argument("--redis-url", default=REDIS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inbox-bench-ledger-") as tmp:
        bench(Path(tmp), args)


if __name__ == "__main__":
    main()
