"""Triage by meaning and language, through the running product."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService
from tests.support.config import make_raw_config
from tests.support.service import Running
from tests.support.store import store_of
from tests.support.waiting import until

ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")


async def _triaged(running: Running, token: str, reference: int) -> dict[str, Any] | None:
    status, view = await running.api("GET", f"/api/conversations/{reference}", token)
    if status != 200:
        return None
    found = [e["data"] for e in view["events"] if e["kind"] == "triaged"]
    return {**found[0], "conversation": view} if found else None


async def test_urgency_and_anger_are_recognised_by_meaning(running: Running) -> None:
    token = await running.agent_token("t", *ALL_TEAMS)
    outage = await running.submit(
        email="a@example.com",
        message="Since 9 am none of our staff can log in, everything is broken",
    )
    angry = await running.submit(
        email="b@example.com",
        message="I'm so angry, this is the third time I write and nobody cares",
    )
    calm = await running.submit(email="c@example.com", message="How do I change my password?")

    urgent = await until(lambda: _triaged(running, token, outage["reference"]))
    assert urgent["priority"] == "urgent"
    assert urgent["reasons"][0].startswith("urgent in meaning: like ")
    assert urgent["language"] == "en"
    high = await until(lambda: _triaged(running, token, angry["reference"]))
    assert high["priority"] == "high" and "negative in meaning" in high["reasons"][0]
    normal = await until(lambda: _triaged(running, token, calm["reference"]))
    assert (normal["priority"], normal["reasons"]) == ("normal", [])
    # The queue puts the urgent one first.
    _, listed = await running.api("GET", "/api/conversations", token)
    assert listed["conversations"][0]["reference"] == outage["reference"]


async def test_spam_is_quarantined_with_its_text_never_answered(running: Running) -> None:
    store = store_of(running.service.settings)
    spam = "Click here to claim your free iPhone, you are our lucky winner"
    await running.submit(email="winner@spam.example", message=spam)
    await running.submit(email="d@example.com", message="My parcel has not arrived")
    await until(lambda: store.count("SELECT count(*) FROM quarantine") == 1)
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 1)
    ((reason, text),) = store.rows("SELECT reason, text FROM quarantine")
    assert reason.startswith("spam: spam in meaning: like ") and text == spam
    assert store.count("SELECT count(*) FROM outbox WHERE address = 'winner@spam.example'") == 0


async def test_a_language_team_gets_messages_in_its_language(
    tmp_path: Path, service_factory: Callable[[Settings], Awaitable[InboxService]]
) -> None:
    raw = make_raw_config(tmp_path)
    raw["teams"].append(
        {
            "name": "german",
            "display_name": "Kundendienst",
            "examples": ["Ich habe eine Frage zu meiner Bestellung"],
            "languages": ["de"],
        }
    )
    settings = parse_settings(raw, tmp_path)
    store = store_of(settings)
    service = await service_factory(settings)
    async with aiohttp.ClientSession() as http:
        for email, text in (
            ("de@example.com", "Mein Paket ist immer noch nicht angekommen, bitte helfen Sie mir"),
            ("en@example.com", "My parcel still has not arrived, please help me"),
        ):
            body = {"email": email, "message": text}
            async with http.post(f"http://127.0.0.1:{service.port}/api/messages", json=body) as r:
                assert r.status == 202
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 2)
    # Form senders: the typed address, then '#' and the sender's key.
    teams = {a.split("#")[0]: t for a, t in store.rows("SELECT address, team FROM conversations")}
    assert teams == {"de@example.com": "german", "en@example.com": "orders"}
    (routed,) = store.rows(
        "SELECT e.data FROM events e JOIN conversations c ON c.id = e.conversation_id"
        " WHERE e.kind = 'routed' AND c.address LIKE 'de@example.com#%'"
    )
    assert '"language_team": "german"' in routed[0]
