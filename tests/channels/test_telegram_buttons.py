"""Buttons under a bot answer on Telegram, against the Bot API stand-in on loopback.

The bot's pipeline does not yet answer from the knowledge base by itself, so each test
puts its result in the store directly (``tests.support.bot_answers``): the conversation
marked as the bot holding it, and the answer queued as an outbox row of kind bot_answer.
Everything from the outbox on is the product: the sender, the connector, the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.telegram.presses import keyboard
from connectors.telegram.split import split_text
from inbox.bot_words import CHOICES, BotState
from inbox.config.settings import Settings
from inbox.service.app import InboxService
from tests.support.bot_answers import queue_bot_answer
from tests.support.config import without_bot
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

BUTTONS = [(c.text, f"choice:{c.verdict}") for c in CHOICES]
ANSWER = "To reset your password, open Settings, then Security, and choose Reset."
INBOUND = "SELECT text, external_id FROM messages WHERE direction='in' ORDER BY id"


@dataclass
class Chat:
    """The product with the Telegram channel on, a customer's open conversation in it."""

    service: InboxService
    store: Store
    api: BotApi

    @property
    def engine(self) -> AsyncEngine:
        assert self.service.engine is not None
        return self.service.engine

    async def bot_answers(self, text: str, state: BotState = BotState.HOLDING) -> list[str]:
        """The bot answers in Ann's conversation; returns every text she got so far."""
        before = len(self.api.texts_to(ANN))
        await queue_bot_answer(self.engine, "telegram", str(ANN), text, state)
        parts = len(split_text(text))
        return await self.api.wait_for_texts(ANN, before + parts)


@pytest.fixture
async def chat(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> Chat:
    # The bot's answers are put in the store by hand here, so the bot itself is silent.
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    found = Chat(await service_factory(settings), store_of(settings), bot_api)
    await bot_api.customer_says(ANN, "I forgot my password and cannot sign in.")
    await bot_api.wait_for_texts(ANN, 1)  # the acknowledgement: the conversation exists
    return found


def test_every_button_fits_telegram() -> None:
    markup = keyboard(tuple(c.text for c in CHOICES))
    assert markup is not None
    rows = markup.inline_keyboard
    assert [len(row) for row in rows] == [1, 1, 1]  # one button per row
    assert all(len(str(row[0].callback_data).encode()) <= 64 for row in rows)
    assert keyboard(()) is None and keyboard(("not a choice",)) is None


async def test_a_bot_answer_goes_out_with_buttons_and_a_press_is_the_customers_reply(
    chat: Chat,
) -> None:
    store, api = chat.store, chat.api
    sent = await chat.bot_answers(ANSWER)
    assert sent[-1] == ANSWER
    assert api.buttons_of(ANN) == BUTTONS
    answer = api.last_sent(ANN)

    query_id = await api.customer_presses(ANN, answer.message_id, "choice:no")
    await until(lambda: len(store.rows(INBOUND)) == 2)
    (text, external_id) = store.rows(INBOUND)[1]
    assert text == "No, that didn't help" and external_id == f"callback:{query_id}"
    assert store.count("SELECT count(*) FROM conversations") == 1  # the same conversation
    # The app stops spinning and the buttons are gone: the choice is made once.
    await api.wait_for(lambda: query_id in api.answered and not api.buttons_of(ANN))
    assert api.last_sent(ANN).text == ANSWER  # the answer itself is untouched
    assert len(api.texts_to(ANN)) == 2  # a press is no new ticket: no acknowledgement


async def test_a_long_bot_answer_has_the_buttons_under_its_last_part(chat: Chat) -> None:
    long_answer = "\n\n".join(f"Step {i}. " + "Follow the instructions. " * 30 for i in range(9))
    parts = split_text(long_answer)
    assert len(parts) == 2
    await chat.bot_answers(long_answer)
    first, last = chat.api.sent[-2:]
    assert first.buttons() == [] and last.buttons() == BUTTONS


async def test_a_press_delivered_twice_is_one_message_and_its_errors_are_only_logged(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.telegram.channel")
    store, api = chat.store, chat.api
    await chat.bot_answers(ANSWER)
    answer = api.last_sent(ANN)
    query_id = await api.customer_presses(ANN, answer.message_id, "choice:yes")
    await api.wait_for(lambda: query_id in api.answered and not api.buttons_of(ANN))
    await until(lambda: len(store.rows(INBOUND)) == 2)  # the press is stored

    # Telegram delivers the same press again: the query is answered already and the
    # keyboard gone, so both calls fail with a 400; the press is still one message.
    await api.customer_presses(ANN, answer.message_id, "choice:yes", query_id=query_id)
    await api.customer_says(ANN, "Thanks!")  # read after the repeat: it marks the end
    await until(lambda: len(store.rows(INBOUND)) == 3)
    texts = [row[0] for row in store.rows(INBOUND)]
    assert texts[1:] == ["Yes, that solved it", "Thanks!"]
    warnings = [r.getMessage().lower() for r in caplog.records]
    assert any("not answered" in m and "query is too old" in m for m in warnings), warnings
    assert any("not removed" in m and "not modified" in m for m in warnings), warnings


async def test_no_buttons_once_the_conversation_is_no_longer_holding(chat: Chat) -> None:
    for state in (BotState.HANDED_OFF, BotState.RESOLVED):
        sent = await chat.bot_answers(f"{ANSWER} ({state})", state)
        assert sent[-1].endswith(f"({state})")
        assert chat.api.buttons_of(ANN) == []


async def test_a_button_the_inbox_never_sent_is_answered_and_skipped(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.telegram.channel")
    store, api = chat.store, chat.api
    await chat.bot_answers(ANSWER)
    answer = api.last_sent(ANN)
    # A keyboard an older version of the bot left under its message.
    assert answer.reply_markup is not None
    answer.reply_markup["inline_keyboard"].append([{"text": "Old", "callback_data": "vote:1"}])
    query_id = await api.customer_presses(ANN, answer.message_id, "vote:1")
    await api.wait_for(lambda: query_id in api.answered)
    await api.customer_says(ANN, "Hello again")  # read after the press: it marks the end
    await until(lambda: len(store.rows(INBOUND)) == 2)
    await until(lambda: not api.updates)  # every update confirmed, the press's too
    assert [row[0] for row in store.rows(INBOUND)] == [
        "I forgot my password and cannot sign in.",
        "Hello again",
    ]
    assert len(api.buttons_of(ANN)) == 4  # left as they were
    assert any("never sent" in r.getMessage() for r in caplog.records)
    url = f"http://127.0.0.1:{chat.service.port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert 'inbox_telegram_skipped_total{reason="unknown_button"} 1' in await r.text()
