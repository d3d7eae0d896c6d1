"""Editing the knowledge base in the web app and through the agent API: a draft answers
nobody until a supervisor publishes it, an edit waits as version 2 while version 1 stays
in force, and an article's own HTML is inert in the editor's preview."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.service.app import InboxService
from tests.support.browser import ScriptWatch, sign_in
from tests.support.staff_web import call, person, signed_in, web_only

DRAFT = {
    "title": "Changing the delivery address",
    "body": "Open the order and choose **Change address** before it ships.",
    "team": "orders",
    "tags": ["delivery"],
    "questions": ["Can I send my order somewhere else?"],
}
HOSTILE = (
    "We take cards. <script>window.__pwned = 1</script>\n"
    "<img src=x onerror=\"fetch('/pwned'); window.__pwned = 1\">\n\n"
    "- [details](javascript:alert('pwned'))\n"
)


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[InboxService]:
    service = await web_only(tmp_path)
    yield service
    await service.stop()


async def _public(service: InboxService, article_id: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{service.port}/kb/{article_id}"
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.text()


@pytest.mark.both_backends
async def test_a_draft_answers_nobody_until_a_supervisor_publishes_it(
    web: InboxService,
) -> None:
    agent = await person(web, "ada")
    boss = await person(web, "sue", role="supervisor")
    status, draft = await call(web, "POST", "/api/kb", agent, DRAFT)
    assert status == 201, draft
    assert (draft["id"], draft["state"], draft["version"]) == (
        "changing-the-delivery-address",
        "draft",
        1,
    )
    assert (await _public(web, draft["id"]))[0] == 404
    assert (await call(web, "POST", "/api/kb", agent, DRAFT))[0] == 409  # the id is taken

    status, refused = await call(web, "POST", f"/api/kb/{draft['id']}/publish", agent)
    assert status == 403 and "supervisors" in refused["error"]
    assert (await call(web, "POST", f"/api/kb/{draft['id']}/retire", agent))[0] == 403
    assert (await _public(web, draft["id"]))[0] == 404

    status, published = await call(web, "POST", f"/api/kb/{draft['id']}/publish", boss)
    assert (status, published["state"], published["version"]) == (200, "published", 1)
    status, page = await _public(web, draft["id"])
    assert status == 200 and "<strong>Change address</strong>" in page
    _, listed = await call(web, "GET", "/api/kb", agent)
    mine = [a for a in listed["articles"] if a["id"] == draft["id"]]
    assert [(a["state"], a["created_by"], a["team"]) for a in mine] == [
        ("published", "ada", "orders")
    ]
    status, bad = await call(web, "POST", "/api/kb", agent, {**DRAFT, "team": "nobody"})
    assert status == 422 and "no team 'nobody'" in bad["error"]


@pytest.mark.both_backends
async def test_an_edit_is_version_2_while_version_1_stays_in_force(web: InboxService) -> None:
    agent_token = await person(web, "ada")
    boss_token = await person(web, "sue", role="supervisor")
    _, draft = await call(web, "POST", "/api/kb", agent_token, DRAFT)
    await call(web, "POST", f"/api/kb/{draft['id']}/publish", boss_token)
    one = f"/agent/kb/{draft['id']}"
    agent, boss = await signed_in(web, "ada"), await signed_in(web, "sue")
    try:
        edited = {
            "title": "Changing the delivery address",
            "body": "Write to us: we change it for you.",
            "team": "orders",
            "tags": "delivery",
            "questions": "Can I send my order somewhere else?",
            "action": "save",
        }
        status, _page, location = await agent.post_form(one, edited)
        assert (status, location) == (303, one + "?done=saved")
        status, page = await agent.get(location)
        assert status == 200 and "draft version 2 by ada waits" in page
        assert 'id="kb-publish"' not in page  # an agent does not publish
        assert "Open the order" in (await _public(web, draft["id"]))[1]  # version 1 answers
        status, _page, _to = await agent.post_form(one + "/publish", {})
        assert status == 403
        async with agent.http.post(agent.base + one + "/publish", allow_redirects=False) as r:
            assert r.status == 403  # no CSRF token

        status, page = await boss.get(one)
        assert 'id="kb-publish"' in page and "Publish version 2" in page
        status, _page, location = await boss.post_form(one + "/publish", {})
        assert (status, location) == (303, one + "?done=published")
        status, public = await _public(web, draft["id"])
        assert "we change it for you" in public and "Open the order" not in public
        _, found = await call(web, "GET", f"/api/kb/{draft['id']}", agent_token)
        assert (found["article"]["version"], found["draft"]) == (2, None)

        status, _page, location = await boss.post_form(one + "/retire", {})
        assert (status, location) == (303, one + "?done=retired")
        assert (await _public(web, draft["id"]))[0] == 404
    finally:
        await agent.http.close()
        await boss.http.close()


async def test_a_new_article_from_the_list_page_and_its_errors(web: InboxService) -> None:
    await person(web, "ada")
    agent = await signed_in(web, "ada")
    try:
        status, page = await agent.get("/agent/kb")
        assert status == 200 and 'id="kb-articles"' in page
        assert "/agent/kb/opening-hours" in page  # the shipped examples are listed
        fields = {"title": "Gift cards", "body": "", "action": "save"}
        status, page, _to = await agent.post_form("/agent/kb", fields)
        assert status == 422 and "the body is required" in page
        fields = {"title": "Gift cards", "body": "They never expire.", "action": "save"}
        status, _page, location = await agent.post_form("/agent/kb", fields)
        assert (status, location) == (303, "/agent/kb/gift-cards?done=saved")
        status, page, _to = await agent.post_form("/agent/kb", fields)
        assert status == 422 and "exists already" in page
        status, page = await agent.get("/agent/kb")
        assert "gift-cards" in page and "<td>draft</td>" in page
    finally:
        await agent.http.close()
    async with aiohttp.ClientSession() as http:  # signed out: sent to sign in
        url = f"http://127.0.0.1:{web.port}/agent/kb"
        async with http.get(url, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/login?next=")


async def test_hostile_html_in_a_draft_is_inert_in_the_preview(
    web: InboxService, browser: Browser
) -> None:
    await person(web, "ada")
    base = f"http://127.0.0.1:{web.port}"
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await sign_in(page, base, "ada")
    await page.goto(f"{base}/agent")
    await page.click("#kb-link")  # the desk links to the knowledge base
    await page.wait_for_url(f"{base}/agent/kb")
    await page.fill("#kb-id", "payments")  # the title's slug would name the beacon
    await page.fill("#kb-title", "Payments <script>window.__pwned = 1</script>")
    await page.fill("#kb-body", HOSTILE)
    await page.click("#kb-preview-button")
    await page.wait_for_selector("#kb-preview")
    preview = await page.inner_text("#kb-preview")
    assert "<script>window.__pwned = 1</script>" in preview  # shown as text
    assert await page.locator("#kb-preview script, #kb-preview img").count() == 0
    await page.click("#kb-preview >> text=details")  # a javascript: link is plain text
    await page.click("#kb-save")
    await page.wait_for_selector("#kb-done:has-text('Draft saved')")
    assert "<script>" in await page.inner_text("#kb-preview")
    assert await page.locator("#kb-preview script, #kb-preview img").count() == 0
    assert await watch.flag(page) is None
    assert watch.dialogs == [] and watch.beacons == []
