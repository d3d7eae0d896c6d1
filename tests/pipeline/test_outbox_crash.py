"""The outbox sender killed mid-pass: a real ``inbox serve`` process, SIGKILLed while it
acknowledges 50 Telegram customers, is started again; every customer, counted at the Bot
API stand-in, has exactly one acknowledgement."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from inbox import tomlwrite
from inbox.cli.bench import start_service
from inbox.config.settings import Settings, parse_settings
from tests.support.config import make_raw_config
from tests.support.store import assert_each_stored_once, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import TOKEN_ENV
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

CUSTOMERS = 50
KILL_AT_SEND = 8  # the process dies while Telegram handles this sendMessage call
FIRST_CHAT = 610_000


def _config(tmp_path: Path, api: BotApi, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Settings]:
    monkeypatch.setenv(TOKEN_ENV, api.token)  # the service processes inherit it
    raw = make_raw_config(tmp_path)
    raw["incidents"]["enabled"] = False  # fifty parcel questions at once: not an outage
    raw["channels"]["telegram"] = {
        "token_env": TOKEN_ENV,
        "base_url": api.base_url,
        "poll_timeout": 1,
        "reconnect_backoff": 0.05,
        "reconnect_backoff_max": 0.5,
    }
    # A short lease: the rows the killed process held come back within seconds.
    raw["outbox"].update(lease_seconds=10.0)
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return path, parse_settings(raw, tmp_path)


async def _start(config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as errors:
        proc, _base = await start_service(
            config, stderr=errors, env={**os.environ, "INBOX_SECRET": "crash"}
        )
    return proc


@pytest.mark.timeout(900)
async def test_sender_killed_mid_pass_acknowledges_each_customer_once(
    tmp_path: Path, bot_api: BotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, settings = _config(tmp_path, bot_api, monkeypatch)
    store = store_of(settings)
    log = tmp_path / "service.log"
    bot_api.send_delay = 0.2  # a pass of 50 sends takes seconds: the kill lands inside it
    proc = await _start(config, log)
    killed = asyncio.Event()
    sent_before_kill: list[int] = []

    async def kill_mid_pass(call: int) -> None:
        if call == KILL_AT_SEND:
            sent_before_kill.append(len(bot_api.sent))
            proc.send_signal(signal.SIGKILL)  # a crash, mid-send: no clean shutdown
            await proc.wait()
            killed.set()

    bot_api.on_send_message = kill_mid_pass
    try:
        for i in range(CUSTOMERS):
            await bot_api.customer_says(FIRST_CHAT + i, f"Order {i}: where is my parcel?")
        await asyncio.wait_for(killed.wait(), 300)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    bot_api.on_send_message = None
    assert sent_before_kill == [KILL_AT_SEND - 1]  # the kill landed mid-pass
    assert store.count("SELECT count(*) FROM outbox WHERE state='sent'") < CUSTOMERS

    proc = await _start(config, log)
    try:

        async def all_acknowledged() -> bool:
            return (
                store.count(
                    # The first answer: an acknowledgement, or the bot's answer in its place.
                    "SELECT count(*) FROM outbox"
                    " WHERE kind IN ('acknowledgement', 'bot_answer') AND state='sent'"
                )
                == CUSTOMERS
            )

        await until(all_acknowledged, timeout=300, interval=0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0

    assert_each_stored_once(store, CUSTOMERS)
    received = Counter(sent.chat_id for sent in bot_api.sent)
    assert received == Counter({FIRST_CHAT + i: 1 for i in range(CUSTOMERS)})
    for address, reference in store.rows("SELECT address, reference FROM conversations"):
        (ack,) = bot_api.texts_to(int(address))
        assert f"#{reference}" in ack  # each customer's own ticket
