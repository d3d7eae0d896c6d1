"""Nothing is lost: a worker killed mid-batch, poison messages, failing deliveries."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from inbox import tomlwrite
from inbox.cli.bench import start_service
from inbox.config.settings import QueueSettings, Settings, parse_settings
from inbox.models import Envelope
from inbox.queue import open_queue
from inbox.queue.redis_keys import RedisKeys
from tests.support.config import make_raw_config
from tests.support.loopback import free_port
from tests.support.service import Running
from tests.support.store import assert_each_stored_once, store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

MESSAGES = 240


def _write_config(tmp_path: Path, port: int) -> tuple[Path, Settings]:
    raw = make_raw_config(tmp_path, queue={"batch_size": 8, "visibility_timeout": 2})
    raw["web"]["port"] = port
    raw["channels"]["form"]["rate_limit_per_minute"] = 100_000
    # Receipts at once: the kill must land while the worker is still storing the burst.
    raw["channels"]["form"]["receipt_wait_seconds"] = 0
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return path, parse_settings(raw, tmp_path)


async def _start(config: Path) -> asyncio.subprocess.Process:
    proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
    return proc


async def _unfinished(settings: QueueSettings) -> int:
    queue = await open_queue(settings)
    try:
        return await queue.pending()
    finally:
        await queue.close()


@pytest.mark.timeout(600)
async def test_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    port = free_port()
    config, settings = _write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    store = store_of(settings)
    proc = await _start(config)
    try:
        async with aiohttp.ClientSession() as http:

            async def post(i: int) -> int:
                payload = {
                    "email": f"c{i}@example.com",
                    "message": f"Order {i}: the parcel never came",
                }
                async with http.post(base + "/api/messages", json=payload) as r:
                    assert r.status == 202
                    return int((await r.json())["reference"])

            references = await asyncio.gather(*(post(i) for i in range(MESSAGES)))
        assert len(set(references)) == MESSAGES

        async def some_committed() -> bool:
            return store.count("SELECT count(*) FROM conversations") > 0

        await until(some_committed, timeout=60, interval=0.01)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        done_at_kill = store.count("SELECT count(*) FROM conversations")
        assert 0 < done_at_kill < MESSAGES, (
            "the kill must land mid-way for this test to mean anything"
        )
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    proc = await _start(config)
    try:

        async def all_committed() -> bool:
            return store.count("SELECT count(*) FROM messages WHERE direction='in'") >= MESSAGES

        await until(all_committed, timeout=180, interval=0.1)

        async def queue_drained() -> bool:
            return await _unfinished(settings.queue) == 0

        await until(queue_drained, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0

    assert_each_stored_once(store, MESSAGES)
    assert (
        store.count(
            f"SELECT count(*) FROM conversations WHERE reference IN ({','.join(map(str, references))})",
        )
        == MESSAGES
    )


def _inject(queue: QueueSettings, external_id: str, payload: str, reference: int) -> None:
    """Puts a raw payload straight into the queue, past ``put``'s checks."""
    if queue.url:
        client = redis.Redis.from_url(queue.url)
        fields: dict[str, str | int] = {"payload": payload, "reference": reference}
        fields.update(channel="form", external_id=external_id)
        client.xadd(RedisKeys(queue.name).stream, fields)  # type: ignore[arg-type]
        client.close()
        return
    conn = sqlite3.connect(queue.path, timeout=30)
    with conn:
        now = time.time()
        conn.execute(
            "INSERT INTO items (channel, external_id, payload, reference, available_at, created_at)"
            " VALUES ('form', ?, ?, ?, ?, ?)",
            (external_id, payload, reference, now, now),
        )
    conn.close()


async def test_poison_messages_are_dead_lettered_with_their_reason(running: Running) -> None:
    queue = running.service.queue
    assert queue is not None
    queue_settings = running.service.settings.queue
    token = await running.agent_token("p", "orders")
    good = await running.submit(email="ok@example.com", message="Where is my parcel?")
    _status, view = await until(lambda: _view(running, token, good["reference"]))
    assert view["team"] == "orders"

    _inject(queue_settings, "garbage", "{not json", 90001)
    nan = Envelope("form", "nan", "email", "nan@example.com", "hello", float("nan"))
    _inject(queue_settings, "nan", nan.to_json(), 90002)
    after = await running.submit(email="ok2@example.com", message="Where is my order?")

    async def all_dead() -> list[Any] | None:
        dead = await queue.dead_letters()
        return dead if len(dead) == 2 else None

    dead = await until(all_dead)
    reasons = {
        json.loads(d.payload)["external_id"] if d.payload.startswith('{"') else "garbage": d
        for d in dead
    }
    attempts = running.service.settings.queue.max_attempts
    assert "payload is not JSON" in reasons["garbage"].reason
    assert reasons["garbage"].attempts == attempts
    assert "received_at is not a time" in reasons["nan"].reason
    _status, view = await until(lambda: _view(running, token, after["reference"]))
    assert view["team"] == "orders"


async def _view(running: Running, token: str, reference: int) -> tuple[int, Any] | None:
    status, view = await running.api("GET", f"/api/conversations/{reference}", token)
    return (status, view) if status == 200 else None
