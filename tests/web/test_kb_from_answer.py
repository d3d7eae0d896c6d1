"""An agent's answer becomes a draft article in one action from the desk: the customer's
question is its example question, the answer its body; it answers nobody until published,
and the conversation's audit trail records it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.models import Envelope
from inbox.service.app import InboxService
from tests.support.browser import open_conversation, sign_in
from tests.support.staff_web import call, person, web_only
from tests.support.tickets import ingest_tickets

pytestmark = pytest.mark.both_backends
QUESTION = "How do I change the delivery address of my order?"
ANSWER = "Open the order in your account and choose Change address before it ships."
REFERENCE = 4100


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[InboxService]:
    service = await web_only(tmp_path)
    assert service.engine is not None
    chat = Envelope("webchat", "m-1", "webchat", "session-1", QUESTION, time.time())
    async with service.engine.begin() as conn:
        await ingest_tickets(conn, service.settings, [chat], first_reference=REFERENCE)
    yield service
    await service.stop()


async def test_an_answer_becomes_a_draft_article_from_the_desk(
    web: InboxService, browser: Browser
) -> None:
    token = await person(web, "ada")
    base = f"http://127.0.0.1:{web.port}"
    page = await browser.new_page()
    await sign_in(page, base, "ada")
    await open_conversation(page, REFERENCE)
    assert await page.locator(".make-draft").count() == 0  # nothing answered yet
    await page.fill("#reply-text", ANSWER)
    await page.click("#reply button[type=submit]")
    await page.wait_for_selector("#status:has-text('Answer queued')")
    await page.click("#messages li.agent .make-draft")

    await page.wait_for_url("**/agent/kb/*?done=drafted")
    assert await page.input_value("#kb-title") == QUESTION
    assert await page.input_value("#kb-body") == ANSWER
    assert await page.input_value("#kb-questions") == QUESTION
    assert "draft · version 1" in await page.inner_text("#kb-state")
    article_id = page.url.split("/agent/kb/")[1].split("?")[0]
    assert article_id == "how-do-i-change-the-delivery-address-of-my-order"
    async with aiohttp.ClientSession() as http, http.get(f"{base}/kb/{article_id}") as r:
        assert r.status == 404  # a draft answers nobody

    _, view = await call(web, "GET", f"/api/conversations/{REFERENCE}", token)
    (event,) = [e for e in view["events"] if e["kind"] == "kb_draft"]
    answer_id = next(m["id"] for m in view["messages"] if m["author"] == "agent")
    assert event["actor"] == "ada"
    assert event["data"] == {"article": article_id, "version": 1, "message": answer_id}

    # Twice from the same answer: a second draft beside the first, never over it.
    path = f"/api/conversations/{REFERENCE}/kb-draft"
    status, again = await call(web, "POST", path, token, {"message": answer_id})
    assert (status, again["id"], again["state"]) == (201, article_id + "-2", "draft")
    question_id = next(m["id"] for m in view["messages"] if m["direction"] == "in")
    status, refused = await call(web, "POST", path, token, {"message": question_id})
    assert status == 422 and "not an agent's answer" in refused["error"]
