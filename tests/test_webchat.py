"""The web chat over a real WebSocket: acknowledgement and agent answers arrive live."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.conftest import Running, until

pytestmark = pytest.mark.both_backends

ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")


async def _session(running: Running) -> str:
    async with running.http.post(running.base + "/chat/session") as r:
        assert r.status == 200
        token: str = (await r.json())["token"]
        return token


async def _next_message(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 30)
        if frame["type"] == kind:
            return frame


async def test_chat_page_loads_its_script_from_self(running: Running) -> None:
    async with running.http.get(running.base + "/chat") as r:
        html = await r.text()
        assert "frame-ancestors *" in r.headers["Content-Security-Policy"]
    assert '<script src="/static/chat.js"></script>' in html
    assert "<script>" not in html  # no inline script anywhere
    async with running.http.get(running.base + "/static/chat.js") as r:
        assert r.status == 200
        assert "textContent" in await r.text()


async def test_chat_ack_then_agent_reply_arrive_live(running: Running) -> None:
    agent = await running.agent_token("cat", *ALL_TEAMS)
    token = await _session(running)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        history = await _next_message(ws, "history")
        assert history["messages"] == []
        await ws.send_json(
            {"type": "message", "client_id": "c1", "text": "The app crashes when I open it"}
        )
        assert (await _next_message(ws, "accepted"))["client_id"] == "c1"
        ack = await _next_message(ws, "message")
        assert ack["author"] == "bot" and "Technical Support team" in ack["text"]
        reference = int(ack["text"].split("ticket is #")[1].split(".")[0])

        # A second message in the open session joins the same conversation, no new ack.
        await ws.send_json({"type": "message", "client_id": "c2", "text": "It is version 3.2"})
        await _next_message(ws, "accepted")

        async def two_customer_messages() -> dict[str, Any] | None:
            status, view = await running.api("GET", f"/api/conversations/{reference}", agent)
            inbound = (
                [m for m in view["messages"] if m["direction"] == "in"] if status == 200 else []
            )
            return view if len(inbound) == 2 else None

        view = await until(two_customer_messages)
        assert view["team"] == "technical"
        assert [m["author"] for m in view["messages"]].count("bot") == 1

        status, _ = await running.api(
            "POST", f"/api/conversations/{reference}/reply", agent, {"text": "Please update to 3.3"}
        )
        assert status == 202
        reply = await _next_message(ws, "message")
        assert reply["author"] == "agent" and reply["text"] == "Please update to 3.3"

    # Reconnecting shows the whole conversation (the answer once its delivery is recorded,
    # a moment after the push); another visitor sees none of it.
    async def history_texts() -> list[str] | None:
        async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
            history = await _next_message(ws, "history")
        texts = [str(m["text"]) for m in history["messages"]]
        return texts if texts[-1] == "Please update to 3.3" else None

    texts = await until(history_texts)
    assert texts[0] == "The app crashes when I open it"
    other = await _session(running)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={other}") as ws:
        assert (await _next_message(ws, "history"))["messages"] == []


async def test_chat_refuses_guessed_or_forged_sessions(running: Running) -> None:
    token = await _session(running)
    session_part, mac = token.split(".")
    for bad in ("", "abc", f"{session_part}.AAAA", f"{session_part[:-2]}xx.{mac}"):
        async with running.http.get(f"{running.base}/chat/ws?token={bad}") as r:
            assert r.status == 403


async def test_chat_frames_are_validated(running: Running) -> None:
    token = await _session(running)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        await _next_message(ws, "history")
        await ws.send_str("not json")
        assert "JSON" in (await _next_message(ws, "error"))["error"]
        await ws.send_json({"type": "message", "client_id": "x", "text": "y" * 4001})
        assert "too long" in (await _next_message(ws, "error"))["error"]
        await ws.send_json({"type": "message", "client_id": "x", "text": "   "})
        assert (await _next_message(ws, "error"))["error"] == "write a message"


async def test_stopping_closes_open_chats_at_once(running: Running) -> None:
    token = await _session(running)
    ws = await running.http.ws_connect(f"{running.base}/chat/ws?token={token}")
    await _next_message(ws, "history")
    started = asyncio.get_running_loop().time()
    stopping = asyncio.create_task(running.service.stop())
    closed = await asyncio.wait_for(ws.receive(), 10)
    await asyncio.wait_for(stopping, 10)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1001
    assert asyncio.get_running_loop().time() - started < 5
