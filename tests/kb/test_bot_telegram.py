"""The bot on Telegram, end to end against the Bot API stand-in: the product, the real
model, the shipped example knowledge base, both back-ends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import Settings
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

QUESTION = "How do I reset my password?"


@pytest.fixture
async def product(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> tuple[InboxService, Store]:
    settings = telegram_settings(tmp_path, bot_api, monkeypatch)
    return await service_factory(settings), store_of(settings)


async def _agent(service: InboxService) -> str:
    assert service.engine is not None
    teams = [t.name for t in service.settings.all_teams]
    _a, token = await Accounts(service.engine).add_agent(f"agent-{uuid.uuid4().hex[:8]}", teams)
    return token


async def _call(service: InboxService, token: str, method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}{path}"
        headers = {"Authorization": f"Bearer {token}"}
        async with http.request(method, url, json=body, headers=headers) as r:
            assert r.status in (200, 202), await r.text()
            return await r.json()


def _state(store: Store) -> tuple[str, str]:
    (row,) = store.rows("SELECT status, bot_state FROM conversations")
    return str(row[0]), str(row[1])


async def test_a_covered_question_is_answered_with_buttons_and_yes_resolves(
    product: tuple[InboxService, Store], bot_api: BotApi
) -> None:
    _service, store = product
    await bot_api.customer_says(ANN, QUESTION)
    (answer,) = await bot_api.wait_for_texts(ANN, 1)
    assert "automatic answer" in answer and "/kb/reset-password" in answer
    sent = bot_api.last_sent(ANN)
    assert [text for text, _data in sent.buttons()] == [
        "Yes, that solved it",
        "No, that didn't help",
        "I want to talk to a person",
    ]
    assert _state(store) == ("new", "holding")
    await bot_api.customer_presses(ANN, sent.message_id, sent.buttons()[0][1])
    texts = await bot_api.wait_for_texts(ANN, 3)  # thanks, then the rating request
    assert "Glad that helped" in texts[1] and "/rate/" in texts[2]
    assert _state(store) == ("resolved", "resolved")
    assert store.count("SELECT count(*) FROM conversations") == 1


async def test_no_in_words_hands_off_then_the_bot_stays_silent_after_the_agent(
    product: tuple[InboxService, Store], bot_api: BotApi
) -> None:
    service, store = product
    await bot_api.customer_says(ANN, QUESTION)
    await bot_api.wait_for_texts(ANN, 1)
    await bot_api.customer_says(ANN, "nope, that did not help me")
    handoff = (await bot_api.wait_for_texts(ANN, 2))[1]
    assert "a person will answer you here" in handoff and "Accounts team" in handoff
    assert _state(store) == ("new", "handed_off")
    token = await _agent(service)
    listing = await _call(service, token, "GET", "/api/conversations")
    (conversation,) = listing["conversations"]
    reference = conversation["reference"]
    await _call(service, token, "POST", f"/api/conversations/{reference}/reply", {"text": "Hi!"})
    await bot_api.wait_for_texts(ANN, 3)
    # A question the knowledge base covers, now in a conversation a person has: no bot.
    await bot_api.customer_says(ANN, "How can I reset my password?")
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    await _call(service, token, "POST", f"/api/conversations/{reference}/reply", {"text": "Done"})
    texts = await bot_api.wait_for_texts(ANN, 4)
    assert texts[3] == "Done", "nothing from the bot came between the agent's answers"
    assert store.count("SELECT count(*) FROM events WHERE kind='bot_answered'") == 1


async def test_human_command_hands_off_at_once(
    product: tuple[InboxService, Store], bot_api: BotApi
) -> None:
    _service, store = product
    await bot_api.customer_says(ANN, QUESTION)
    await bot_api.wait_for_texts(ANN, 1)
    await bot_api.customer_says(ANN, "/human")
    human = (await bot_api.wait_for_texts(ANN, 2))[1]
    assert "A person from our team will answer here" in human
    assert _state(store) == ("new", "handed_off")
    reasons = store.rows("SELECT data FROM events WHERE kind='bot_handed_off'")
    assert len(reasons) == 1 and "asked for a person" in str(reasons[0][0])


async def test_an_angry_customer_gets_a_person_not_the_bot(
    product: tuple[InboxService, Store], bot_api: BotApi
) -> None:
    _service, store = product
    await bot_api.customer_says(
        ANN, "This is outrageous!!! Your useless site won't let me reset my password"
    )
    (ack,) = await bot_api.wait_for_texts(ANN, 1)
    assert "automatic answer" not in ack and "we have your message" in ack
    assert _state(store)[1] == ""
    assert bot_api.last_sent(ANN).buttons() == []
