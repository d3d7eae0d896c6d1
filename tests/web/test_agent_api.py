"""The agent API: tokens, team walls, atomic claims, replies, notes, corrections."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.service import Running
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def _stored(running: Running, token: str, reference: int) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        status, view = await running.api("GET", f"/api/conversations/{reference}", token)
        return view if status == 200 else None

    view: dict[str, Any] = await until(found)
    return view


async def test_token_is_required(running: Running) -> None:
    async with running.http.get(running.base + "/api/conversations") as r:
        assert r.status == 401
        assert "Bearer" in (await r.json())["error"]
    status, body = await running.api("GET", "/api/conversations", "wrong")
    assert status == 401 and body["error"] == "unknown agent token"


async def test_other_teams_conversation_is_404(running: Running) -> None:
    billing = await running.agent_token("bill", "billing")
    orders = await running.agent_token("olly", "orders")
    ticket = await running.submit(email="d@example.com", message="I was charged twice on my card")
    reference = ticket["reference"]
    view = await _stored(running, billing, reference)
    assert view["team"] == "billing"
    for method, path, body in [
        ("GET", f"/api/conversations/{reference}", None),
        ("POST", f"/api/conversations/{reference}/reply", {"text": "hi"}),
        ("POST", f"/api/conversations/{reference}/notes", {"text": "hi"}),
        ("POST", f"/api/conversations/{reference}/resolve", None),
    ]:
        status, err = await running.api(method, path, orders, body)
        assert status == 404, (method, path)
        assert "no conversation" in err["error"]
    status, missing = await running.api("GET", "/api/conversations/999999", billing)
    assert status == 404 and missing["error"] == err["error"].replace(str(reference), "999999")
    _, listed = await running.api("GET", "/api/conversations", orders)
    assert reference not in [c["reference"] for c in listed["conversations"]]


async def test_two_agents_claiming_at_once_never_share(running: Running) -> None:
    tokens = [await running.agent_token(f"a{i}", "orders") for i in range(4)]
    texts = [f"My parcel number {i} has not arrived" for i in range(6)]
    references = [
        (await running.submit(email=f"c{i}@example.com", message=t))["reference"]
        for i, t in enumerate(texts)
    ]
    for ref in references:
        await _stored(running, tokens[0], ref)

    async def claim(token: str) -> int | None:
        status, body = await running.api("POST", "/api/conversations/next", token)
        return body["reference"] if status == 200 else None

    claimed = await asyncio.gather(*(claim(t) for t in tokens * 2))
    got = [c for c in claimed if c is not None]
    assert len(got) == 6 and sorted(got) == sorted(references)
    status, _ = await running.api("POST", "/api/conversations/next", tokens[0])
    assert status == 204


async def test_claim_takes_highest_priority_first(running: Running) -> None:
    token = await running.agent_token("pri", "technical")
    calm = await running.submit(
        email="e@example.com", message="The mobile app will not sync with my laptop"
    )
    await _stored(running, token, calm["reference"])
    urgent = await running.submit(
        email="f@example.com", message="URGENT: your service is down, nothing loads"
    )
    view = await _stored(running, token, urgent["reference"])
    assert view["priority"] == "urgent"
    status, first = await running.api("POST", "/api/conversations/next", token)
    assert status == 200 and first["reference"] == urgent["reference"]


async def test_reply_note_resolve_and_audit_trail(running: Running) -> None:
    token = await running.agent_token("res", "billing")
    ticket = await running.submit(
        email="g@example.com", message="Please send me a copy of my invoice receipt"
    )
    reference = ticket["reference"]
    await _stored(running, token, reference)
    status, _ = await running.api(
        "POST", f"/api/conversations/{reference}/notes", token, {"text": "VIP, be quick"}
    )
    assert status == 201
    status, _ = await running.api(
        "POST", f"/api/conversations/{reference}/reply", token, {"text": "Attached."}
    )
    assert status == 202
    status, body = await running.api(
        "POST", f"/api/conversations/{reference}/reply", token, {"text": " "}
    )
    assert status == 422 and "text" in body["error"]
    status, _ = await running.api("POST", f"/api/conversations/{reference}/resolve", token)
    assert status == 200
    status, body = await running.api("POST", f"/api/conversations/{reference}/resolve", token)
    assert status == 409

    async def delivered() -> dict[str, Any] | None:
        _, view = await running.api("GET", f"/api/conversations/{reference}", token)
        replies = [m for m in view["messages"] if m["author"] == "agent" and not m["internal"]]
        return view if replies and replies[0]["delivery"] == "sent" else None

    view = await until(delivered)
    assert view["status"] == "resolved" and view["assignee"] == "res"
    kinds = [e["kind"] for e in view["events"]]
    assert kinds[:4] == ["created", "routed", "triaged", "acknowledged"]
    assert kinds[-4:] == ["noted", "replied", "resolved", "csat_requested"]
    notes = [m for m in view["messages"] if m["internal"]]
    assert [n["text"] for n in notes] == ["VIP, be quick"]

    # The customer's page shows the reply but never the internal note.
    async with running.http.get(running.base + ticket["ticket_url"]) as r:
        page = await r.text()
    assert "Attached." in page and "VIP, be quick" not in page


async def test_reassignment_teaches_the_router_at_once(running: Running) -> None:
    token = await running.agent_token(
        "teach", "billing", "orders", "accounts", "technical", "general", "triage"
    )
    text = "My loyalty points from the spring promotion never showed up"
    first = await running.submit(email="h@example.com", message=text)
    view = await _stored(running, token, first["reference"])
    target = "accounts" if view["team"] != "accounts" else "general"
    status, body = await running.api(
        "POST", f"/api/conversations/{first['reference']}/reassign", token, {"team": target}
    )
    assert status == 200 and body["learned"]
    status, _ = await running.api(
        "POST", f"/api/conversations/{first['reference']}/reassign", token, {"team": "nowhere"}
    )
    assert status == 404

    second = await running.submit(
        email="i@example.com", message="The loyalty points from the spring promotion are missing"
    )
    view2 = await _stored(running, token, second["reference"])
    assert view2["team"] == target
    assert view2["routing"]["nearest"][0]["text"] == text
    reassigned = [
        e
        for e in (await _stored(running, token, first["reference"]))["events"]
        if e["kind"] == "reassigned"
    ]
    assert reassigned[0]["data"] == {"from": view["team"], "to": target, "correction": True}


async def test_a_confirmed_routing_teaches_the_router_once(running: Running) -> None:
    token = await running.agent_token(
        "confirm", "billing", "orders", "accounts", "technical", "general", "triage"
    )
    text = "My invoice total is higher than the price on your website"
    first = await running.submit(email="j@example.com", message=text)
    view = await _stored(running, token, first["reference"])
    assert view["team"] == "billing"
    ref = first["reference"]
    status, body = await running.api("POST", f"/api/conversations/{ref}/confirm", token)
    assert (status, body) == (200, {"team": "billing", "learned": True})
    status, _ = await running.api("POST", f"/api/conversations/{ref}/confirm", token)
    assert status == 409  # once is enough
    second = await running.submit(
        email="k@example.com", message="The invoice total is more than the website price"
    )
    view2 = await _stored(running, token, second["reference"])
    assert view2["team"] == "billing"
    assert view2["routing"]["nearest"][0]["text"] == text
    # A conversation with the fallback team has no team to confirm: reassign it instead.
    vague = await running.submit(email="l@example.com", message="The weather in Lisbon is lovely")
    assert (await _stored(running, token, vague["reference"]))["team"] == "triage"
    status, body = await running.api(
        "POST", f"/api/conversations/{vague['reference']}/confirm", token
    )
    assert status == 409 and "no team to confirm" in body["error"]
    confirmed = [
        e
        for e in (await _stored(running, token, ref))["events"]
        if e["kind"] == "routing_confirmed"
    ]
    assert confirmed[0]["data"] == {"team": view["team"]}
