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

from inbox import tomlwrite
from inbox.bench import start_service
from inbox.models import Envelope
from tests.conftest import Running, default_config, until
from tests.mailservers import free_port

MESSAGES = 240


def _write_config(tmp_path: Path, port: int) -> Path:
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path / "var")
    raw["store"]["url"] = f"sqlite+aiosqlite:///{tmp_path}/inbox.db"
    raw["queue"].update(path=str(tmp_path / "queue.db"), batch_size=8, visibility_timeout=2)
    raw["web"]["port"] = port
    raw["channels"]["form"]["rate_limit_per_minute"] = 100_000
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return path


async def _start(config: Path) -> asyncio.subprocess.Process:
    proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
    return proc


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.timeout(600)
async def test_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    port = free_port()
    config = _write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    store_db = tmp_path / "inbox.db"
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
            return _count(store_db, "SELECT count(*) FROM conversations") > 0

        await until(some_committed, timeout=60, interval=0.01)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        done_at_kill = _count(store_db, "SELECT count(*) FROM conversations")
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
            return (
                _count(store_db, "SELECT count(*) FROM messages WHERE direction='in'") >= MESSAGES
            )

        await until(all_committed, timeout=180, interval=0.1)
        queue_db = tmp_path / "queue.db"

        async def queue_drained() -> bool:
            return _count(queue_db, "SELECT count(*) FROM items WHERE state != 'done'") == 0

        await until(queue_drained, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0

    assert _count(store_db, "SELECT count(*) FROM messages WHERE direction='in'") == MESSAGES
    assert (
        _count(store_db, "SELECT count(DISTINCT external_id) FROM messages WHERE direction='in'")
        == MESSAGES
    )
    assert _count(store_db, "SELECT count(*) FROM conversations") == MESSAGES
    assert _count(store_db, "SELECT count(*) FROM outbox WHERE kind='acknowledgement'") == MESSAGES
    assert (
        _count(
            store_db,
            "SELECT count(DISTINCT conversation_id) FROM outbox WHERE kind='acknowledgement'",
        )
        == MESSAGES
    )
    assert (
        _count(
            store_db,
            f"SELECT count(*) FROM conversations WHERE reference IN ({','.join(map(str, references))})",
        )
        == MESSAGES
    )


def _inject(queue_db: Path, external_id: str, payload: str, reference: int) -> None:
    conn = sqlite3.connect(queue_db, timeout=30)
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
    queue_db = queue.settings.path
    _inject(queue_db, "garbage", "{not json", 90001)
    nan = Envelope("form", "nan", "email", "nan@example.com", "hello", float("nan"))
    _inject(queue_db, "nan", nan.to_json(), 90002)
    good = await running.submit(email="ok@example.com", message="Where is my parcel?")

    async def both_dead() -> list[Any] | None:
        dead = await queue.dead_letters()
        return dead if len(dead) == 2 else None

    dead = await until(both_dead)
    reasons = {
        json.loads(d.payload)["external_id"] if d.payload.startswith('{"') else "garbage": d
        for d in dead
    }
    assert "payload is not JSON" in reasons["garbage"].reason
    assert reasons["garbage"].attempts == queue.settings.max_attempts
    assert "IntegrityError" in reasons["nan"].reason or "NOT NULL" in reasons["nan"].reason

    token = await running.agent_token("p", "orders")
    _status, view = await until(lambda: _view(running, token, good["reference"]))
    assert view["team"] == "orders"


async def _view(running: Running, token: str, reference: int) -> tuple[int, Any] | None:
    status, view = await running.api("GET", f"/api/conversations/{reference}", token)
    return (status, view) if status == 200 else None
