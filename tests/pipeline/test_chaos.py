"""Nothing lost, nothing twice, under crashes: the scaled-out back-end (Redis Streams and
PostgreSQL) with worker processes killed at random, and Redis itself restarted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from inbox import tomlwrite
from inbox.cli.bench import start_service
from inbox.config.settings import Settings, parse_settings
from inbox.errors import QueueUnavailable
from inbox.models import Envelope
from inbox.queue.redis_keys import RedisKeys
from inbox.queue.redis_streams import RedisStreamsQueue
from inbox.store.dead_letter_reviews import dismiss_dead_letter
from inbox.store.engine import create_engine
from inbox.store.ledger import ledger_report
from tests.support.config import make_raw_config
from tests.support.store import assert_each_stored_once, store_of
from tests.support.waiting import until

pytestmark = pytest.mark.parametrize("backend", ["scaled"], indirect=True)

MESSAGES = 10_000
POISON = 10
WORKERS = 3

SUBJECTS = ("parcel", "refund", "invoice", "password", "card", "delivery", "account", "order")


def _envelope(i: int) -> Envelope:
    topic = SUBJECTS[i % len(SUBJECTS)]
    return Envelope(
        channel="form",
        external_id=f"chaos-{i}",
        identity_channel="email",
        address=f"customer{i}@example.com",
        text=f"Hello, question {i} about my {topic}: can you help with number {i * 7919 % 10007}?",
        received_at=time.time(),
    )


async def _put_all(queue: RedisStreamsQueue, count: int, start: int = 0) -> list[int]:
    references: list[int] = []
    for first in range(start, start + count, 500):
        batch = [_envelope(i) for i in range(first, min(first + 500, start + count))]
        references += [r.reference for r in await queue.put(batch)]
    return references


def _chaos_config(tmp_path: Path, **queue: object) -> tuple[Path, Settings]:
    raw = make_raw_config(tmp_path, queue=dict(queue))
    raw["incidents"]["enabled"] = False  # thousands of similar messages: not an outage
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return path, parse_settings(raw, tmp_path)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.fixture
async def pool_process() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _start_pool(config: Path, processes: int, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "INBOX_SECRET": "chaos"}
    with log.open("ab") as errors:
        proc, _ = await start_service(
            config,
            stderr=errors,
            env=env,
            serve_args=("--role", "worker", "--processes", str(processes)),
        )
    return proc


@pytest.mark.timeout(1500)
async def test_workers_killed_every_second_lose_and_repeat_nothing(
    tmp_path: Path, pool_process: list[asyncio.subprocess.Process]
) -> None:
    # A kill every second cuts about one batch in six: ten tries keep an unlucky message
    # from being given up on (a lease that runs out counts as a try), and small batches
    # keep the work a kill throws away small.
    config, settings = _chaos_config(tmp_path, batch_size=32, visibility_timeout=3, max_attempts=10)
    queue = await RedisStreamsQueue(settings.queue).open()
    store = store_of(settings)
    keys = RedisKeys(settings.queue.name)
    try:
        references = await _put_all(queue, MESSAGES)
        assert len(set(references)) == MESSAGES
        for i in range(POISON):  # deliberately broken payloads, past put's checks
            await queue.redis.xadd(
                keys.stream,
                {
                    "payload": "{broken",
                    "reference": 900_000 + i,
                    "channel": "form",
                    "external_id": f"poison-{i}",
                },
            )
        pool = await _start_pool(config, WORKERS, tmp_path / "pool.log")
        pool_process.append(pool)
        rng = random.Random(7)
        kills = 0

        async def stored() -> int:
            return store.count("SELECT count(*) FROM messages WHERE direction='in'")

        deadline = time.monotonic() + 1200
        while await stored() < MESSAGES:
            assert time.monotonic() < deadline, "the workers did not finish in 20 minutes"
            await asyncio.sleep(1.0)
            children = _children(pool.pid)
            if children:
                os.kill(rng.choice(children), signal.SIGKILL)
                kills += 1
        assert kills >= 10, f"only {kills} kills: the test did not test much"

        async def drained() -> bool:
            return await queue.pending() == 0

        await until(drained, timeout=120, interval=0.5)
        pool.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(pool.wait(), 60) == 0

        assert_each_stored_once(store, MESSAGES)
        assert await queue.acked_count() == MESSAGES
        assert await queue.in_flight() == 0
        assert await queue.redis.xlen(keys.stream) == 0
        dead = await queue.dead_letters(limit=100)
        assert sorted(d.payload for d in dead) == ["{broken"] * POISON
        assert all("payload is not JSON" in d.reason for d in dead)
        await _reconciles(config, settings, queue, tmp_path / "web.log")
        print(f"{MESSAGES} messages, {kills} workers killed, {POISON} poison dead-lettered")
    finally:
        await queue.close()


async def _reconciles(
    config: Path, settings: Settings, queue: RedisStreamsQueue, log: Path
) -> None:
    """The answer ledger of the end state: once the web process has delivered the form
    acknowledgements and an operator has dismissed the poison (no contact in it), no
    contact is unanswered, even a day later."""
    store = store_of(settings)
    with log.open("ab") as errors:
        web, _base = await start_service(
            config,
            stderr=errors,
            env={**os.environ, "INBOX_SECRET": "chaos"},
            serve_args=("--role", "web"),
        )
    try:
        unsent = "SELECT count(*) FROM outbox WHERE state <> 'sent'"
        await until(lambda: store.count(unsent) == 0, timeout=300, interval=0.5)
    finally:
        web.send_signal(signal.SIGTERM)
        await asyncio.wait_for(web.wait(), 60)
    engine = create_engine(settings.store.url)
    try:
        dead = await queue.dead_letters(limit=100)
        for letter in dead:
            await dismiss_dead_letter(engine, letter.item_id, "ops", "a broken test payload")
        report = await ledger_report(
            engine, settings.ledger, await queue.dead_letters(limit=100), time.time() + 86400
        )
    finally:
        await engine.dispose()
    assert len(report.entries) == MESSAGES + POISON
    assert report.unanswered == []
    delivered = {e.delivery.value for e in report.entries if e.source == "message"}
    assert delivered == {"sent"}


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A Redis of this test's own, append-only file on, that the test can kill."""
    from tests.support.loopback import free_port

    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    yield f"redis://127.0.0.1:{port}/0", folder
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    with contextlib.suppress(RedisError):  # already down
        await client.shutdown(nosave=True)
    await client.aclose()


async def _redis_server(url: str, folder: Path) -> asyncio.subprocess.Process:
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    proc = await asyncio.create_subprocess_exec(
        "redis-server",
        "--port",
        port,
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        stdout=asyncio.subprocess.DEVNULL,
    )
    client = aioredis.Redis.from_url(url)
    try:
        await until(lambda: _pings(client), timeout=30, interval=0.05)
    finally:
        await client.aclose()
    return proc


async def _pings(client: aioredis.Redis) -> bool:
    try:
        return bool(await client.ping())
    except Exception:
        return False


@pytest.mark.timeout(900)
async def test_redis_restarted_mid_run_loses_nothing(
    tmp_path: Path,
    private_redis: tuple[str, Path],
    pool_process: list[asyncio.subprocess.Process],
) -> None:
    url, folder = private_redis
    redis_proc = await _redis_server(url, folder)
    config, settings = _chaos_config(tmp_path, url=url, batch_size=64, visibility_timeout=3)
    queue = await RedisStreamsQueue(settings.queue).open()
    store = store_of(settings)
    total = 3000
    try:
        pool = await _start_pool(config, 2, tmp_path / "pool.log")
        pool_process.append(pool)
        accepted: list[int] = []

        async def produce() -> None:
            """Like a connector: a put that fails is tried again; a receipt is a promise."""
            i = 0
            while i < total:
                batch = [_envelope(n) for n in range(i, min(i + 50, total))]
                try:
                    accepted.extend(r.reference for r in await queue.put(batch))
                except QueueUnavailable:
                    await asyncio.sleep(0.2)
                    continue
                i += len(batch)
                await asyncio.sleep(0.02)

        producing = asyncio.create_task(produce())
        await until(lambda: store.count("SELECT count(*) FROM messages") > 200, timeout=300)
        redis_proc.send_signal(signal.SIGKILL)  # a crash, not a clean shutdown
        await redis_proc.wait()
        await asyncio.sleep(2)  # workers and producer see it gone
        redis_proc = await _redis_server(url, folder)
        await asyncio.wait_for(producing, 600)
        assert len(accepted) == total

        async def all_stored() -> bool:
            return store.count("SELECT count(*) FROM messages WHERE direction='in'") >= total

        await until(all_stored, timeout=600, interval=0.5)

        async def drained() -> bool:
            return await queue.pending() == 0

        await until(drained, timeout=120, interval=0.5)
        pool.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(pool.wait(), 60) == 0
        assert_each_stored_once(store, total)
        assert await queue.dead_count() == 0
        assert await queue.acked_count() >= total  # an ack lost in the crash is redone
    finally:
        await queue.close()
        if redis_proc.returncode is None:
            redis_proc.kill()
            await redis_proc.wait()
