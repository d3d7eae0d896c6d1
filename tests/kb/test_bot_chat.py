"""The bot in the web chat, end to end over the chat's WebSocket: the product, the real
model, the shipped example knowledge base, both back-ends."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import Settings
from tests.support.service import Running
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


@pytest.fixture
def settings(bot_settings: Settings) -> Settings:
    """The bot answers here, as in the shipped configuration."""
    return bot_settings


async def _session(running: Running) -> str:
    async with running.http.post(running.base + "/chat/session") as r:
        assert r.status == 200
        token: str = (await r.json())["token"]
        return token


async def _next_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 30)
        if frame["type"] == "message":
            return frame


async def _say(ws: aiohttp.ClientWebSocketResponse, client_id: str, text: str) -> None:
    await ws.send_json({"type": "message", "client_id": client_id, "text": text})


async def test_the_chat_bot_answers_with_buttons_and_a_pressed_yes_resolves(
    running: Running,
) -> None:
    agent = await running.agent_token("cat", "accounts", role="supervisor")
    token = await _session(running)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        await _say(ws, "c1", "I forgot my password, how can I get back in?")
        answer = await _next_message(ws)
        assert answer["author"] == "bot" and "automatic answer" in answer["text"]
        assert answer["choices"] == [
            "Yes, that solved it",
            "No, that didn't help",
            "I want to talk to a person",
        ]
        reference = int(answer["text"].split("ticket #")[1].split(")")[0])
        await _say(ws, "c2", answer["choices"][0])  # the button sends its text
        thanks = await _next_message(ws)
        assert "Glad that helped" in thanks["text"] and not thanks.get("choices")
        rating = await _next_message(ws)
        assert "/rate/" in rating["text"]

    async def resolved() -> dict[str, Any] | None:
        status, view = await running.api("GET", f"/api/conversations/{reference}", agent)
        return view if status == 200 and view["status"] == "resolved" else None

    view = await until(resolved)
    assert view["bot_state"] == "resolved"
    verdicts = [m["text"] for m in view["messages"] if m["direction"] == "in"]
    assert verdicts[-1] == "Yes, that solved it"


async def test_asking_for_a_person_in_words_hands_off_and_a_new_question_is_no_loop(
    running: Running,
) -> None:
    agent = await running.agent_token("dan", "accounts", "general", "orders", "technical")
    token = await _session(running)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        await _say(ws, "c1", "How do I reset my password?")
        answer = await _next_message(ws)
        assert "automatic answer" in answer["text"]
        reference = int(answer["text"].split("ticket #")[1].split(")")[0])
        await _say(ws, "c2", "can I please talk to a real human being")
        handoff = await _next_message(ws)
        assert "a person will answer you here" in handoff["text"]
        # The bot has let go: another covered question waits for the person.
        await _say(ws, "c3", "And what are your opening hours?")

        async def three_inbound() -> dict[str, Any] | None:
            status, view = await running.api("GET", f"/api/conversations/{reference}", agent)
            inbound = [m for m in view["messages"] if m["direction"] == "in"]
            return view if status == 200 and len(inbound) == 3 else None

        view = await until(three_inbound)
        assert view["bot_state"] == "handed_off" and view["status"] != "resolved"
        assert sum(m["author"] == "bot" for m in view["messages"]) == 2  # answer, handoff
        _status, listing = await running.api("GET", "/api/conversations", agent)
        assert reference in [c["reference"] for c in listing["conversations"]]


async def test_a_first_message_asking_for_a_person_gets_a_person_not_an_article(
    running: Running,
) -> None:
    token = await _session(running)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        await _say(ws, "c1", "Hello, I want to talk to a person please")
        first = await _next_message(ws)
    assert "automatic answer" not in first["text"] and "we have your message" in first["text"]
    assert not first.get("choices")
