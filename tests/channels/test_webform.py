"""The web form channel over real HTTP, through queue, worker and store, real model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from tests.support.service import Running
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def _conversations(running: Running, token: str) -> list[dict[str, object]]:
    status, body = await running.api("GET", "/api/conversations", token)
    assert status == 200
    conversations: list[dict[str, object]] = body["conversations"]
    return conversations


async def test_form_page_is_accessible_html(running: Running) -> None:
    async with running.http.get(running.base + "/form") as r:
        html = await r.text()
        assert r.status == 200
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    for field in ("name", "email", "subject", "message"):
        assert f'<label for="{field}"' in html
        assert f'id="{field}"' in html
    assert 'name="website"' in html and 'tabindex="-1"' in html  # the honeypot
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', html)


async def test_form_submission_gets_a_ticket_routed_with_evidence(running: Running) -> None:
    token = await running.agent_token("ann", "billing")
    form = {
        "name": "Ada",
        "email": "ada@example.com",
        "subject": "Charged twice",
        "message": "My card was charged two times for one invoice. Please refund one.",
        "idempotency_key": "key-1",
    }
    async with running.http.post(running.base + "/form", data=form) as r:
        assert r.status == 200
        page = await r.text()
    ticket = re.search(r'id="ticket">#(\d+)<', page)
    assert ticket is not None
    reference = int(ticket.group(1))

    async def routed() -> dict[str, object] | None:
        status, body = await running.api("GET", f"/api/conversations/{reference}", token)
        return body if status == 200 else None

    view = await until(routed)
    assert view["team"] == "billing"
    routing = view["routing"]
    assert routing["team"] == "billing" and not routing["abstained"]
    assert routing["nearest"][0]["team"] == "billing"
    assert {e["kind"] for e in view["events"]} >= {"created", "routed", "triaged", "acknowledged"}
    ack = [m for m in view["messages"] if m["author"] == "bot"]
    assert len(ack) == 1
    assert f"#{reference}" in ack[0]["text"] and "Billing team" in ack[0]["text"]

    # The customer's ticket page shows the acknowledgement once it is delivered.
    link = re.search(r'id="follow" href="([^"]+)"', page)
    assert link is not None

    async def acknowledged_on_page() -> bool:
        async with running.http.get(running.base + link.group(1)) as r:
            return "we have your message" in (await r.text()).lower()

    await until(acknowledged_on_page)


async def test_resubmitted_form_makes_one_ticket(running: Running) -> None:
    token = await running.agent_token(
        "bo", "orders", "billing", "technical", "accounts", "general", "triage"
    )
    form = {"email": "cy@example.com", "message": "Where is my parcel?", "idempotency_key": "same"}
    references = []
    for _ in range(3):
        async with running.http.post(running.base + "/form", data=form) as r:
            match = re.search(r'id="ticket">#(\d+)<', await r.text())
            assert match is not None
            references.append(int(match.group(1)))
    assert len(set(references)) == 1

    headers = {"Idempotency-Key": "json-key"}
    bodies = []
    for _ in range(2):
        payload = {"email": "cy@example.com", "message": "Refund please, order 7"}
        async with running.http.post(
            running.base + "/api/messages", json=payload, headers=headers
        ) as r:
            bodies.append((r.status, await r.json()))
    assert [b[0] for b in bodies] == [202, 200]
    assert bodies[0][1]["ticket"] == bodies[1][1]["ticket"]

    async def both_stored() -> list[dict[str, object]] | None:
        found = await _conversations(running, token)
        return found if len(found) >= 2 else None

    found = await both_stored()
    found = await until(both_stored)
    assert sorted(c["reference"] for c in found) == sorted(
        {references[0], bodies[0][1]["reference"]}
    )


async def test_honeypot_size_and_encoding_are_refused_clearly(running: Running) -> None:
    url = running.base + "/api/messages"
    async with running.http.post(
        url, json={"email": "a@example.com", "message": "hi", "website": "x"}
    ) as r:
        assert r.status == 422
        assert "automated" in (await r.json())["error"]
    async with running.http.post(
        url, data=b"x" * 1_048_576, headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 413
        assert "too large" in (await r.json())["error"]
    async with running.http.post(
        url,
        data=b'{"email": "a@example.com", "message": "\xff\xfe"}',
        headers={"Content-Type": "application/json"},
    ) as r:
        assert r.status == 400
        assert "UTF-8" in (await r.json())["error"]
    async with running.http.post(
        running.base + "/form",
        data=b"email=a%40example.com&message=%FF%FE",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as r:
        assert r.status == 400
        assert "not valid UTF-8" in await r.text()
    async with running.http.post(url, json={"email": "not an email", "message": ""}) as r:
        assert r.status == 422
        fields = (await r.json())["fields"]
        assert set(fields) == {"email", "message"}
    async with running.http.post(
        url, json={"email": "a@example.com", "message": "x" * 20_001}
    ) as r:
        assert r.status in (413, 422)
    assert await running.service.queue.pending() == 0 if running.service.queue else False


async def test_per_ip_rate_limit_answers_429(running: Running) -> None:
    statuses = []
    for i in range(25):
        async with running.http.post(
            running.base + "/api/messages", json={"email": "r@example.com", "message": f"note {i}"}
        ) as r:
            statuses.append(r.status)
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
    assert statuses[:20] == [202] * 20
    assert 429 in statuses[20:]


async def test_hostile_input_is_stored_as_text_and_never_executed(running: Running) -> None:
    token = await running.agent_token(
        "hx", "billing", "orders", "accounts", "technical", "general", "triage"
    )
    script = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    body = await running.submit(
        name=f"Eve {script}",
        email="eve@example.com",
        subject="Refund\r\nBcc: victim@example.com\r\n" + script,
        message=f"Please refund {script}",
    )
    reference = body["reference"]

    async def stored() -> dict[str, object] | None:
        status, view = await running.api("GET", f"/api/conversations/{reference}", token)
        return view if status == 200 else None

    view = await until(stored)
    assert "\r" not in view["subject"] and "\n" not in view["subject"]
    assert view["subject"].startswith("Refund Bcc: victim@example.com")
    assert script in view["messages"][0]["text"]  # kept verbatim as text

    async with running.http.get(running.base + body["ticket_url"]) as r:
        html = await r.text()
    assert "<script>alert" not in html and "onerror=alert" not in html.replace(
        "onerror=alert(1)&gt;", ""
    )
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


async def test_forged_ticket_link_is_refused(running: Running) -> None:
    body = await running.submit(email="t@example.com", message="hello there")
    good = body["ticket_url"]
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    async with running.http.get(running.base + forged) as r:
        assert r.status == 404


async def test_a_body_sent_in_pieces_is_read_whole(running: Running) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        yield b'{"email": "slow@example.com", '
        await asyncio.sleep(0.05)  # the second piece arrives later, as on a slow link
        yield b'"message": "My order never arrived"}'

    async with running.http.post(
        running.base + "/api/messages", data=pieces(), headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 202, await r.text()
        assert (await r.json())["ticket"].startswith("#")
