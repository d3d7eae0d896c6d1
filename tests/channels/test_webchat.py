"""The web chat over a real WebSocket: acknowledgement and agent answers arrive live."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from typing import Any

import aiohttp
import pytest
from yarl import URL

from connectors.webchat import WebChatConnector
from tests.support.service import Running
from tests.support.waiting import until

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


class RawChatSocket:
    """A WebSocket client spoken by hand, so a test can drop the connection the way a
    closed tab does: no closing handshake, the TCP connection simply gone."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str, token: str) -> RawChatSocket:
        url = URL(base)
        assert url.host is not None and url.port is not None
        reader, writer = await asyncio.open_connection(url.host, url.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /chat/ws?token={token} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def receive_json(self) -> Any:
        """The next frame from the server (unmasked text, short enough for one read)."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 30)
        assert first == 0x81, first  # one whole text frame
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(await self.reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await self.reader.readexactly(8), "big")
        return json.loads(await self.reader.readexactly(size))

    def send_json(self, frame: dict[str, Any]) -> None:
        """One masked text frame, as a browser sends it."""
        payload = json.dumps(frame).encode()
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def drop(self) -> None:
        """The tab is closed: the connection goes without a closing frame."""
        self.writer.transport.abort()


def _chat(running: Running) -> WebChatConnector:
    (chat,) = (c for c in running.service.connectors if isinstance(c, WebChatConnector))
    return chat


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


async def test_a_tab_closed_while_the_server_pushes_is_no_error_and_loses_no_answer(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    agent = await running.agent_token("cat", *ALL_TEAMS)
    chat = _chat(running)
    token = await _session(running)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="connectors.webchat"):
        # The tab closes just after sending: the "accepted" frame finds the socket gone.
        tab = await RawChatSocket.open(running.base, token)
        assert (await tab.receive_json())["type"] == "history"
        tab.send_json({"type": "message", "client_id": "c1", "text": "My parcel never came"})
        tab.drop()
        await until(lambda: chat.open_sockets == 0)

        async def history_texts(last: str) -> list[str] | None:
            async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
                history = await _next_message(ws, "history")
            texts = [str(m["text"]) for m in history["messages"]]
            return texts if texts and last in texts[-1] else None

        texts = await until(lambda: history_texts("ticket is #"))
        assert texts[0] == "My parcel never came"
        reference = int(texts[-1].split("ticket is #")[1].split(".")[0])

        # The tab closes while the agent's answer is pushed to it.
        tab = await RawChatSocket.open(running.base, token)
        assert (await tab.receive_json())["type"] == "history"
        reply = f"/api/conversations/{reference}/reply"
        status, _ = await running.api("POST", reply, agent, {"text": "It left our depot today"})
        assert status == 202
        tab.drop()
        await until(lambda: chat.open_sockets == 0)
        texts = await until(lambda: history_texts("It left our depot today"))

    assert texts.count("It left our depot today") == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    # The disconnects did happen mid-push, and were noted quietly.
    gone = [r for r in caplog.records if "closed before" in r.getMessage()]
    assert gone and all(r.levelno == logging.DEBUG for r in gone)
