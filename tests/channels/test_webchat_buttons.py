"""Choices under a bot answer in the web chat: the frames, and the widget in Chromium.

The bot's pipeline does not yet answer from the knowledge base by itself, so each test
puts its result in the store directly (``tests.support.bot_answers``): the visitor's
conversation marked as the bot holding it, and the answer queued as an outbox row of
kind bot_answer. Everything from the outbox on is the product: the sender, the chat
connector and its socket, the page's script, the queue and the store.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from inbox.bot_words import CHOICES, BotState
from tests.support.bot_answers import conversation_of, queue_bot_answer, set_bot_state
from tests.support.browser import ScriptWatch
from tests.support.service import Running
from tests.support.store import Store, store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


TEXTS = [c.text for c in CHOICES]
ANSWER = "You can change your email address under Account, then Profile."
SECOND = "Your invoices are under Billing, then History."
LATEST = "#chat-log li:last-child"


def _store(running: Running) -> Store:
    return store_of(running.service.settings)


def _visitor(store: Store) -> str:
    """The session of the one visitor who wrote so far."""
    ((address,),) = store.rows("SELECT DISTINCT address FROM conversations WHERE channel='webchat'")
    return str(address)


async def _bot_answers(
    running: Running, address: str, text: str, state: BotState = BotState.HOLDING
) -> int:
    assert running.service.engine is not None
    return await queue_bot_answer(running.service.engine, "webchat", address, text, state)


async def _all_sent(store: Store) -> None:
    """Every answer's delivery is recorded: the history the page loads has them all."""
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state != 'sent'") == 0)


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 30)
        if frame["type"] == kind:
            return frame


async def test_a_bot_answer_carries_its_choices_live_and_in_the_history_while_holding(
    running: Running,
) -> None:
    store = _store(running)
    async with running.http.post(running.base + "/chat/session") as r:
        token = (await r.json())["token"]
    url = f"{running.base}/chat/ws?token={token}"
    async with running.http.ws_connect(url) as ws:
        await _next(ws, "history")
        await ws.send_json({"type": "message", "client_id": "c1", "text": "How to change email?"})
        ack = await _next(ws, "message")
        assert ack["choices"] == []  # an acknowledgement offers none
        address = _visitor(store)
        message_id = await _bot_answers(running, address, ANSWER)
        answer = await _next(ws, "message")
        assert (answer["id"], answer["text"], answer["choices"]) == (message_id, ANSWER, TEXTS)
    await _all_sent(store)

    async def history() -> list[dict[str, Any]]:
        async with running.http.ws_connect(url) as ws:
            messages: list[dict[str, Any]] = (await _next(ws, "history"))["messages"]
            return messages

    assert [m["choices"] for m in await history()] == [[], [], TEXTS]
    assert running.service.engine is not None
    conversation = await conversation_of(running.service.engine, "webchat", address)
    await set_bot_state(running.service.engine, conversation, BotState.RESOLVED)
    assert [m["choices"] for m in await history()] == [[], [], []]


async def _open_chat(page: Page, base: str) -> None:
    await page.goto(f"{base}/chat")
    await page.wait_for_selector("#chat-status:has-text('Connected')")


async def _choices_shown(page: Page) -> list[str]:
    return await page.locator("#chat-log .choices button").all_inner_texts()


async def test_the_widget_offers_the_choices_and_a_press_is_the_visitors_message(
    running: Running, browser: Browser
) -> None:
    store = _store(running)
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await _open_chat(page, running.base)
    await page.fill("#chat-input", "How do I change my email address?")
    await page.press("#chat-input", "Enter")
    await page.wait_for_selector(f"{LATEST}:has-text('ticket is #')")
    address = _visitor(store)

    await _bot_answers(running, address, ANSWER)
    await page.wait_for_selector(f"{LATEST}:has-text('{ANSWER}') .choices button")
    assert await _choices_shown(page) == TEXTS
    group = page.locator(f"{LATEST} .choices")
    assert await group.get_attribute("role") == "group"
    assert await group.locator("button[type=button]").count() == 3  # real buttons

    # By keyboard: to the second choice, and Enter presses it.
    await page.focus(f"{LATEST} .choices button >> nth=0")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f'#chat-log li.customer:last-child:has-text("{TEXTS[1]}")')
    assert await _choices_shown(page) == []
    assert await page.evaluate("() => document.activeElement.id") == "chat-input"
    inbound = "SELECT text FROM messages WHERE direction='in' ORDER BY id"
    await until(lambda: [r[0] for r in store.rows(inbound)][-1:] == [TEXTS[1]])
    assert store.count("SELECT count(*) FROM conversations") == 1

    # Back later: the answer is no longer the latest message, so it offers nothing.
    await _all_sent(store)
    await page.reload()
    await page.wait_for_selector(f'{LATEST}:has-text("{TEXTS[1]}")')
    assert await _choices_shown(page) == []

    # A new answer, still awaiting a verdict, offers them again after a reload too; once
    # the conversation has moved on (an agent took over), it does not.
    await _bot_answers(running, address, SECOND)
    await page.wait_for_selector(f"{LATEST}:has-text('{SECOND}') .choices button")
    await _all_sent(store)
    await page.reload()
    await page.wait_for_selector(f"{LATEST}:has-text('{SECOND}') .choices button")
    assert await _choices_shown(page) == TEXTS
    assert running.service.engine is not None
    conversation = await conversation_of(running.service.engine, "webchat", address)
    await set_bot_state(running.service.engine, conversation, BotState.HANDED_OFF)
    await page.reload()
    await page.wait_for_selector(f"{LATEST}:has-text('{SECOND}')")
    assert await _choices_shown(page) == []

    # A click works as a press does.
    await set_bot_state(running.service.engine, conversation, BotState.HOLDING)
    await page.reload()
    await page.click(f"{LATEST} .choices button:has-text('{TEXTS[2]}')")
    await page.wait_for_selector(f"#chat-log li.customer:last-child:has-text('{TEXTS[2]}')")
    await until(lambda: [r[0] for r in store.rows(inbound)][-1:] == [TEXTS[2]])
    assert await _choices_shown(page) == []
    assert watch.console_errors == []
