"""Customer satisfaction: the rating link reaches the customer's chat after resolution,
one tap records it, the dashboard shows it; opening the link alone records nothing."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser

from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def test_a_resolved_chat_gets_a_rating_link_and_one_tap_rates_it(
    running: Running, browser: Browser
) -> None:
    token = await running.agent_token("ria", "billing", "triage", role="supervisor")
    customer = await browser.new_page()
    await customer.goto(f"{running.base}/chat")
    await customer.wait_for_selector("#chat-status:has-text('Connected')")
    await customer.fill("#chat-input", "My refund has not arrived yet")
    await customer.click("#chat-form button[type=submit]")
    acknowledgement = customer.locator("#chat-log li:has-text('Your ticket is')")
    await acknowledgement.wait_for()
    found = re.search(r"#(\d+)", await acknowledgement.inner_text())
    assert found is not None
    reference = int(found.group(1))

    async def visible() -> bool:
        status, _ = await running.api("GET", f"/api/conversations/{reference}", token)
        return status == 200

    await until(visible)
    base = f"/api/conversations/{reference}"
    assert (await running.api("POST", base + "/reply", token, {"text": "Sent today."}))[0] == 202
    assert (await running.api("POST", base + "/resolve", token))[0] == 200

    invitation = customer.locator("#chat-log li:has-text('How did we do?')")
    await invitation.wait_for()
    link = re.search(r"https?://\S+/rate/\S+", await invitation.inner_text())
    assert link is not None
    href = await invitation.locator("a").get_attribute("href")  # the link is clickable
    assert href is not None and href.startswith("/rate/") and link.group(0).endswith(href)
    store = store_of(running.service.settings)
    page = await browser.new_page()
    await page.goto(link.group(0))  # opening it (as a link preview would) records nothing
    assert store.count("SELECT count(*) FROM csat_ratings") == 0
    await page.click("button[value='5']")
    await page.wait_for_selector("#thanks")
    assert store.rows("SELECT score FROM csat_ratings") == [(5,)]
    await page.click("button[value='4']")  # changed mind: still one rating
    await page.wait_for_selector("button[value='4'].chosen")
    assert store.rows("SELECT score FROM csat_ratings") == [(4,)]

    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "ria", TEST_PASSWORD)
        async with http.get(running.base + "/supervisor/panel") as r:
            panel = await r.text()
    row = re.search(r'<table class="grid" id="csat">.*?</table>', panel, re.S)
    assert row is not None and "<td>1</td><td>4.0</td><td>100 %</td>" in row.group(0)


async def test_a_reopened_conversation_is_not_asked_twice(running: Running) -> None:
    token = await running.agent_token("rex", "billing", "triage")
    ticket = await running.submit(email="nia@example.com", message="My invoice is wrong")
    base = f"/api/conversations/{ticket['reference']}"

    async def status() -> str | None:
        code, view = await running.api("GET", base, token)
        return str(view["status"]) if code == 200 else None

    await until(status)
    assert (await running.api("POST", base + "/resolve", token))[0] == 200
    await running.submit(
        email="nia@example.com", message=f"About #{ticket['reference']}: still wrong, sorry"
    )
    await until(lambda: _is(status, "open"))
    assert (await running.api("POST", base + "/resolve", token))[0] == 200
    store = store_of(running.service.settings)
    assert store.count("SELECT count(*) FROM events WHERE kind = 'csat_requested'") == 1
    assert store.count("SELECT count(*) FROM outbox WHERE kind = 'csat'") == 1


async def _is(read: Any, expected: str) -> bool:
    return bool(await read() == expected)


async def test_a_forged_or_unknown_rating_link_is_404(running: Running) -> None:
    async with aiohttp.ClientSession() as http:
        for token in ("forged", "MTAwMQ.AAAA"):
            async with http.get(f"{running.base}/rate/{token}") as r:
                assert r.status == 404
            async with http.post(f"{running.base}/rate/{token}", data={"score": "5"}) as r:
                assert r.status == 404
