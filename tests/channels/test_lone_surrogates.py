"""A lone surrogate (``"\\udc80"`` in JSON) from the form, the chat or Telegram is stored
as U+FFFD; it fails neither its own message nor the ones submitted beside it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inbox.config.settings import Settings
from inbox.text import clean_text
from tests.support.config import make_settings
from tests.support.service import Running
from tests.support.store import store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

POISONED = {
    3: {"message": "My parcel \udc80 never came"},
    13: {"name": "Ann \ud800", "subject": "Late \udfff order", "message": "Where is it?"},
    23: {"message": "Refund \ud83d\ude00 please \ud83d"},
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The test settings, with room for 27 submissions from one address at once."""
    return make_settings(tmp_path, **{"channels.form": {"rate_limit_per_minute": 100_000}})


def test_clean_text_replaces_lone_surrogates_and_joins_pairs() -> None:
    assert clean_text("a\udc80b \ud83d\ude00 \ud83d") == "a\ufffdb \U0001f600 \ufffd"
    assert clean_text("plain text") == "plain text"


async def test_form_stores_lone_surrogates_replaced_and_fails_nobody(running: Running) -> None:
    async def post(i: int) -> tuple[int, Any]:
        fields = {"email": f"c{i}@example.com", "message": f"Order {i} is late"}
        fields.update(POISONED.get(i, {}))
        body = json.dumps(fields)  # "\udc80" travels as the JSON escape, as a client sends it
        headers = {"Content-Type": "application/json"}
        async with running.http.post(
            running.base + "/api/messages", data=body, headers=headers
        ) as r:
            return r.status, await r.text()

    answers = await asyncio.gather(*(post(i) for i in range(27)))
    assert [status for status, _ in answers] == [202] * 27, answers
    store = store_of(running.service.settings)

    def stored() -> list[tuple[Any, ...]]:
        rows = store.rows("SELECT subject, text FROM messages WHERE direction='in'")
        return rows if len(rows) == 27 else []

    rows = await until(stored, timeout=60)
    texts = {text: subject for subject, text in rows}
    assert texts["My parcel \ufffd never came"] == ""
    assert texts["Where is it?"] == "Late \ufffd order"
    assert "Refund \U0001f600 please \ufffd" in texts


async def test_chat_frame_with_a_lone_surrogate_is_accepted(running: Running) -> None:
    async with running.http.post(running.base + "/chat/session") as r:
        token = (await r.json())["token"]
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        frame = {"type": "message", "client_id": "c\udc801", "text": "Broken \udc80 app"}
        await ws.send_str(json.dumps(frame))
        while (answer := await asyncio.wait_for(ws.receive_json(), 30))["type"] == "history":
            pass
    assert answer == {"type": "accepted", "client_id": "c\udc801"}
    store = store_of(running.service.settings)
    sql = "SELECT text FROM messages WHERE direction='in' AND channel='webchat'"
    rows = await until(lambda: store.rows(sql), timeout=60)
    assert rows == [("Broken \ufffd app",)]


async def test_telegram_update_with_lone_surrogates_is_stored_and_holds_up_nothing(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> None:
    """A name (which skips text cleaning) and a text with lone surrogates, fetched in one
    batch with an innocent message: both are queued with their cursor and answered."""
    settings = telegram_settings(tmp_path, bot_api, monkeypatch)
    await bot_api.customer_says(ANN, "Charged \udc80 twice", name="Ann \ud800")
    await bot_api.customer_says(ANN + 1, "Where is my parcel?", name="Bob")
    await service_factory(settings)
    await bot_api.wait_for_texts(ANN, 1)
    await bot_api.wait_for_texts(ANN + 1, 1)
    rows = store_of(settings).rows(
        "SELECT text FROM messages WHERE direction='in' AND channel='telegram' ORDER BY id"
    )
    assert sorted(rows) == [("Charged \ufffd twice",), ("Where is my parcel?",)]
