"""Scale-out benchmark: the embedded default beside Redis + PostgreSQL with 1 and 2 worker
processes, in one run, and Redis memory per 100,000 queued messages.

Run with ``scripts/bench-scale`` (or ``python -m tests.benchmarks.bench_scale``).
In one run it:

1. measures the raw encode rate of the model on the same texts (the ceiling on 2 cores);
2. for each set-up, posts N form messages over HTTP (Bitext texts, 16 connections) and
   times each from "accepted" (the HTTP answer, the message is in the queue) to
   "acknowledged" (the worker committed its ticket and acknowledgement):
   - embedded: ``inbox serve``, SQLite store and queue, every role in one process;
   - scaled, 1 worker: ``inbox serve --role web`` + ``--role worker``, PostgreSQL + Redis;
   - scaled, 2 workers: the same with ``--processes 2``;
3. queues 100,000 form messages on Redis with nothing consuming them and reads Redis's
   ``used_memory`` before and after.

It prints throughput, p50 and p99 latency, each set-up's ratio to the raw encode rate, and
the memory figure. Nothing is asserted: figures go to ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import redis.asyncio as aioredis
from sqlalchemy import select

from inbox import tomlwrite
from inbox.cli.bench import _push, measure_encode, read_texts, start_service, stop_service
from inbox.config.settings import QueueSettings
from inbox.models import Envelope
from inbox.queue.redis_keys import RedisKeys
from inbox.queue.redis_streams import RedisStreamsQueue
from inbox.store.engine import create_engine
from inbox.store.tables import conversations, outbox
from tests.support.config import make_raw_config
from tests.support.paths import BITEXT_TEST

POSTGRES = os.environ.get(
    "INBOX_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("INBOX_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Run:
    name: str
    rate: float
    p50: float
    p99: float


async def _acknowledged(store_url: str) -> dict[int, float]:
    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(conversations.c.reference, outbox.c.created_at)
                    .join(conversations, conversations.c.id == outbox.c.conversation_id)
                    .where(outbox.c.kind == "acknowledgement")
                )
            ).all()
    finally:
        await engine.dispose()
    return {int(r[0]): float(r[1]) for r in rows}


async def _database() -> tuple[str, str]:
    name = f"inbox_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, "postgresql+asyncpg" + POSTGRES.rsplit("/", 1)[0][len("postgresql") :] + "/" + name


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _one(name: str, folder: Path, texts: list[str], n: int, workers: int | None) -> Run:
    """One set-up: ``workers`` None is the embedded default, else the scaled one."""
    raw = make_raw_config(folder)
    raw["web"]["port"] = 0
    raw["channels"]["form"]["rate_limit_per_minute"] = 10_000_000
    raw["incidents"]["enabled"] = False
    database = ""
    queue_name = f"bench-{uuid.uuid4().hex[:10]}"
    if workers is not None:
        database, raw["store"]["url"] = await _database()
        raw["queue"].update(url=REDIS, name=queue_name)
    config = folder / f"{name}.toml"
    config.write_text(tomlwrite.dumps(raw))
    env = {**os.environ, "INBOX_SECRET": "bench"}
    started: list[asyncio.subprocess.Process] = []
    log = (folder / f"{name}.log").open("wb")
    try:
        if workers is None:
            web, base = await start_service(config, stderr=log, env=env)
            started.append(web)
        else:
            web, base = await start_service(
                config, stderr=log, env=env, serve_args=("--role", "web")
            )
            started.append(web)
            pool, _ = await start_service(
                config,
                stderr=log,
                env=env,
                serve_args=("--role", "worker", "--processes", str(workers)),
            )
            started.append(pool)
        store_url = str(raw["store"]["url"])
        begun, accepted = await _push(base, texts, n, 16)
        deadline = time.monotonic() + 900
        while len(acknowledged := await _acknowledged(store_url)) < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: only {len(acknowledged)} of {n} acknowledged")
            await asyncio.sleep(0.2)
    finally:
        for proc in reversed(started):
            await stop_service(proc)
        log.close()
        if database:
            await _drop(database)
        if workers is not None:
            await _clear(queue_name)
    latencies = [(acknowledged[r] - at) * 1000 for r, at in accepted.items() if r in acknowledged]
    p50, p99 = np.percentile(np.array(latencies), [50, 99])
    return Run(name, n / (max(acknowledged.values()) - begun), float(p50), float(p99))


async def _clear(queue_name: str) -> None:
    client = aioredis.Redis.from_url(REDIS)
    try:
        keys = [k async for k in client.scan_iter(match="{" + queue_name + "}:*", count=1000)]
        for first in range(0, len(keys), 500):
            await client.delete(*keys[first : first + 500])
    finally:
        await client.aclose()


async def redis_memory(texts: list[str], count: int) -> tuple[float, int]:
    """Bytes of Redis memory per queued message, and the mean payload size."""
    name = f"bench-memory-{uuid.uuid4().hex[:8]}"
    queue = await RedisStreamsQueue(QueueSettings(url=REDIS, name=name)).open()
    client: Any = queue.redis
    try:
        before = int((await client.info("memory"))["used_memory"])
        sizes = 0
        for first in range(0, count, 1000):
            batch = [
                Envelope(
                    "form",
                    f"memory-{i}",
                    "email",
                    f"customer{i}@example.com",
                    texts[i % len(texts)],
                    time.time(),
                    sender_name="A Customer",
                )
                for i in range(first, min(first + 1000, count))
            ]
            sizes += sum(len(e.to_json()) for e in batch)
            await queue.put(batch)
        after = int((await client.info("memory"))["used_memory"])
        assert await client.xlen(RedisKeys(name).stream) == count
    finally:
        await queue.close()
        await _clear(name)
    return (after - before) / count, sizes // count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--memory-messages", type=int, default=100_000)
    args = parser.parse_args()
    texts = read_texts(BITEXT_TEST)
    sample = [texts[i % len(texts)] for i in range(args.messages)]
    encode, _ = measure_encode(sample, 32)
    print(f"raw encode: {encode:.1f} texts/s (batch 32, the model in a process of its own)")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="inbox-bench-scale-") as tmp:
        for name, workers in (("embedded", None), ("scaled-1", 1), ("scaled-2", 2)):
            folder = Path(tmp) / name
            folder.mkdir()
            run = asyncio.run(_one(name, folder, texts, args.messages, workers))
            runs.append(run)
            print(
                f"{name:9} {run.rate:7.1f} messages/s ({run.rate / encode:.2f} of the raw "
                f"encode), latency p50 {run.p50:.0f} ms, p99 {run.p99:.0f} ms"
            )
    per_message, payload = asyncio.run(redis_memory(texts, args.memory_messages))
    print(
        f"Redis memory: {per_message:.0f} bytes per queued message "
        f"({per_message * 100_000 / 2**20:.1f} MiB per 100,000; mean payload {payload} bytes)"
    )


if __name__ == "__main__":
    main()
