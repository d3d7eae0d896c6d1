"""Every process tells whether it is healthy and exposes Prometheus metrics; roles run apart."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from classifiers.embedder import SentenceTransformerEmbedder
from inbox.config.settings import Settings
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.config import without_bot
from tests.support.loopback import free_port
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


def _value(metrics: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert found is not None, f"{name} not in metrics"
    return float(found.group(1))


async def test_health_and_metrics_of_the_whole_service(running: Running) -> None:
    async with running.http.get(running.base + "/health") as r:
        assert r.status == 200
        health = await r.json()
    assert health["status"] == "ok"
    assert health["checks"] == {"store": "ok", "queue": "ok"}
    assert set(health["roles"]) == {"web", "connectors", "worker", "sender", "sla"}

    sent = await running.submit(email="m@example.com", message="Where is my parcel?")
    assert sent["reference"]

    async def processed() -> str | None:
        async with running.http.get(running.base + "/metrics") as r:
            assert r.status == 200
            assert r.content_type == "text/plain"
            text = await r.text()
        return text if _value(text, "inbox_messages_processed_total") >= 1 else None

    metrics = await until(processed)
    assert _value(metrics, "inbox_processing_seconds_count") >= 1
    assert _value(metrics, "inbox_queue_depth") >= 0
    assert _value(metrics, "inbox_queue_dead_letters") == 0
    assert _value(metrics, "inbox_unanswered_contacts") == 0  # answered, and young anyway
    assert _value(metrics, "inbox_probe_errors") == 0
    assert "# TYPE inbox_processing_seconds histogram" in metrics


async def test_roles_run_apart(settings: Settings, embedder: SentenceTransformerEmbedder) -> None:
    """A web process and a worker + sender process share the store and queue: a form
    message posted to the first is stored by the second, which serves its health and
    metrics on a port of its own; the acknowledgement goes out from the web process."""
    health_port = free_port()
    web = InboxService(settings, roles=("web",))
    worker = InboxService(
        settings, roles=("worker", "sender"), embedder=embedder, health_port=health_port
    )
    store = store_of(settings)
    await web.start()
    try:
        assert web.engine is not None and web.queue is not None
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{web.port}/health") as r:
                assert (await r.json())["roles"] == ["web"]
            payload = {"email": "r@example.com", "message": "I was charged twice"}
            async with http.post(f"http://127.0.0.1:{web.port}/api/messages", json=payload) as r:
                assert r.status == 202
                reference = (await r.json())["reference"]
            assert store.count("SELECT count(*) FROM conversations") == 0  # no worker yet
            await worker.start()
            await until(
                lambda: (
                    store.count(
                        "SELECT count(*) FROM outbox o JOIN conversations c"
                        " ON c.id = o.conversation_id WHERE c.reference = ? AND o.state = 'sent'",
                        reference,
                    )
                    == 1
                )
            )
            base = f"http://127.0.0.1:{health_port}"
            async with http.get(base + "/metrics") as r:
                metrics = await r.text()
            assert _value(metrics, "inbox_messages_processed_total") == 1
            # The acknowledgement is on the form's ticket page: the web process sent it.
            # (With no mailbox or bot configured, the sender role has nothing to send.)
            assert "inbox_outbox_sent_total" not in metrics
            assert web.metrics.counters["inbox_outbox_sent_total"] == 1
            async with http.get(base + "/health") as r:
                assert r.status == 200
                body = await r.json()
            assert body["roles"] == ["sender", "worker"]
            assert body["checks"] == {"store": "ok", "queue": "ok"}
    finally:
        await worker.stop()
        await web.stop()


async def _next_event(stream: aiohttp.ClientResponse, kind: str, reference: int) -> dict[str, Any]:
    """Reads the event stream until a ``kind`` event about ``reference`` arrives."""
    current = ""
    async for raw in stream.content:
        line = raw.decode().strip()
        if line.startswith("event: "):
            current = line.removeprefix("event: ")
        elif line.startswith("data: ") and current == kind:
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            if data.get("reference") == reference:
                return data
    raise AssertionError("the stream ended")


async def test_split_roles_keep_the_desk_live(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """With the worker in another process, the desk still hears of new conversations at
    once: the web process reads what the others stored."""
    web = InboxService(settings, roles=("web",))
    worker = InboxService(settings, roles=("worker", "sender", "sla"), embedder=embedder)
    await web.start()
    await worker.start()
    try:
        assert web.engine is not None
        await Accounts(web.engine).add_agent(
            "lee", ["billing", "orders", "triage"], password=TEST_PASSWORD
        )
        base = f"http://127.0.0.1:{web.port}"
        async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
            signed = await sign_in_http(http, base, "lee", TEST_PASSWORD)
            assert signed.status == 303
            async with http.get(base + "/live") as stream:
                assert stream.status == 200
                payload = {"email": "live@example.com", "message": "I was charged twice"}
                async with http.post(base + "/api/messages", json=payload) as r:
                    reference = (await r.json())["reference"]
                event = await asyncio.wait_for(_next_event(stream, "conversation", reference), 60)
        assert event["status"] in ("new", "open")
    finally:
        await worker.stop()
        await web.stop()


async def test_a_chat_answer_reaches_the_socket_on_another_web_process(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """Two web processes: the visitor's chat socket is on the first, the agent answers
    through the second; the answer still arrives live on the socket."""
    settings = without_bot(settings)  # the acknowledgement gives the ticket to answer
    first = InboxService(settings, roles=("web",))
    second = InboxService(settings, roles=("web",))
    worker = InboxService(settings, roles=("worker", "sla"), embedder=embedder)
    for service in (first, second, worker):
        await service.start()
    try:
        assert second.engine is not None
        _agent, token = await Accounts(second.engine).add_agent(
            "kit", ["technical", "triage"], password=TEST_PASSWORD
        )
        one, two = f"http://127.0.0.1:{first.port}", f"http://127.0.0.1:{second.port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(one + "/chat/session") as r:
                session = (await r.json())["token"]
            async with http.ws_connect(f"{one}/chat/ws?token={session}") as ws:
                await ws.send_json(
                    {"type": "message", "client_id": "c1", "text": "The app crashes when I open it"}
                )
                ack = await _chat_frame(ws, lambda f: f.get("author") == "bot")
                reference = int(ack["text"].split("ticket is #")[1].split(".")[0])
                headers = {"Authorization": f"Bearer {token}"}
                async with http.post(
                    f"{two}/api/conversations/{reference}/reply",
                    json={"text": "Please update to version 3.3"},
                    headers=headers,
                ) as r:
                    assert r.status == 202, await r.text()
                answer = await _chat_frame(ws, lambda f: f.get("author") == "agent")
        assert answer["text"] == "Please update to version 3.3"
    finally:
        for service in (worker, second, first):
            await service.stop()


async def _chat_frame(
    ws: aiohttp.ClientWebSocketResponse, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 60)
        if frame["type"] == "message" and wanted(frame):
            return frame
