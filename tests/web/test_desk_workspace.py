"""The desk as agents work in it all day, in Chromium at 1,280×800: three panes side by
side (screenshots written to var/screenshots), ten conversations worked from the keyboard
alone, and a desktop notification when a customer writes in one of mine."""

from __future__ import annotations

import functools
from pathlib import Path

import aiohttp
from playwright.async_api import Browser, BrowserContext, FloatRect, Page

from tests.support.browser import ScriptWatch
from tests.support.paths import ROOT
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD
from tests.support.store import store_of
from tests.support.waiting import until

SHOTS = ROOT / "var" / "screenshots"
ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
WIDE = {"width": 1280, "height": 800}
QUESTIONS = [
    "I was charged twice for my subscription this month",
    "My parcel 5512 has not arrived after two weeks",
    "How do I change the email address on my account?",
    "The app crashes when I open the settings page",
    "Can I pay my invoice by bank transfer?",
    "The jacket I ordered is the wrong size, can I swap it?",
    "I forgot my password and the reset link does not come",
    "Why is there a late fee on my last bill?",
    "Do you deliver to the Shetland islands?",
    "The website shows an error 500 when I check out",
]
# Records each notification the page raises, and still raises it.
RECORD_NOTIFICATIONS = """
window.__notes = [];
(function () {
  var Real = window.Notification;
  if (!Real) { return; }
  function Recorded(title, options) {
    window.__notes.push({ title: title, body: (options || {}).body || "" });
    return new Real(title, options);
  }
  Recorded.requestPermission = function () { return Real.requestPermission(); };
  Object.defineProperty(Recorded, "permission", { get: function () { return Real.permission; } });
  window.Notification = Recorded;
}());
"""


async def _desk(browser: Browser, running: Running, name: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=WIDE)  # type: ignore[arg-type]
    await context.grant_permissions(["notifications"], origin=running.base)
    page = await context.new_page()
    await page.add_init_script(RECORD_NOTIFICATIONS)
    await page.goto(f"{running.base}/agent")
    await page.fill("#name", name)
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#queue li")
    return context, page


async def _shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


async def test_three_panes_and_ten_conversations_from_the_keyboard(
    running: Running, browser: Browser
) -> None:
    store = store_of(running.service.settings)
    await running.agent_token("kim", *ALL_TEAMS)
    for i, question in enumerate(QUESTIONS):
        await running.submit(email=f"customer{i}@example.com", message=question)
    await until(lambda: store.count("SELECT count(*) FROM conversations") == len(QUESTIONS))
    context, page = await _desk(browser, running, "kim")
    watch = ScriptWatch()
    watch.attach(page)
    try:
        await page.wait_for_selector(f"#list-title:has-text('{len(QUESTIONS)}')")
        await page.keyboard.press("j")  # the first of the list opens
        await page.wait_for_selector("#conversation-title")
        # The list pane is swapped in again once the conversation is read (its unread
        # mark goes): a box is taken of the panes as they settle.
        boxes = [
            await until(functools.partial(_box, page, pane))
            for pane in ("#views", "#list", "#conversation .thread", "#customer-pane")
        ]
        lefts = [b["x"] for b in boxes if b is not None]
        assert lefts == sorted(lefts) and len(set(lefts)) == 4  # side by side, in order
        assert all(b["y"] < 120 for b in boxes if b is not None)  # all at the top
        assert (await _shot(page, "desk-three-panes")).stat().st_size > 10_000

        await page.keyboard.press("?")
        assert await page.locator("#shortcuts").is_visible()
        await page.keyboard.press("Escape")
        assert not await page.locator("#shortcuts").is_visible()

        # Ten conversations, each taken, answered and resolved without the mouse.
        for n in range(len(QUESTIONS)):
            await page.keyboard.press("t")
            await page.wait_for_selector("#conversation-meta:has-text('assigned to kim')")
            await page.wait_for_selector("#resolve:not([disabled])")
            reference = await page.get_attribute("#conversation-title", "data-reference")
            await page.keyboard.press("r")
            await page.keyboard.type(f"Answer {n}: we are on it.")
            await page.keyboard.press("Control+Enter")
            await page.wait_for_selector(f"#messages li.agent:has-text('Answer {n}:')")
            await page.keyboard.press("Escape")
            await page.keyboard.press("e")
            await page.wait_for_selector("#conversation-meta:has-text('resolved')")
            resolved = f"SELECT status FROM conversations WHERE reference = {reference}"
            assert store.rows(resolved) == [("resolved",)]
        assert store.count("SELECT count(*) FROM conversations WHERE status = 'resolved'") == 10
        replies = "SELECT count(*) FROM outbox WHERE kind = 'reply'"
        assert store.count(replies) == 10
        await page.keyboard.press("g")
        await page.keyboard.press("m")  # the "mine" view: nothing open is left
        await page.wait_for_selector("#list[data-view='mine'] #queue li.empty")
        assert "view=mine" in page.url
        await _shot(page, "desk-after-ten")
        assert watch.console_errors == []
    finally:
        await context.close()


async def test_a_new_customer_message_in_my_conversation_raises_a_notification(
    running: Running, browser: Browser
) -> None:
    await running.agent_token("lou", *ALL_TEAMS)
    async with aiohttp.ClientSession() as visitor:
        async with visitor.post(running.base + "/chat/session") as r:
            token = (await r.json())["token"]
        async with visitor.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
            await ws.send_json(
                {"type": "message", "client_id": "a", "text": "My card was declined"}
            )
            context, page = await _desk(browser, running, "lou")
            try:
                await page.wait_for_selector("#queue li[data-reference]")
                await page.click("#take-next")
                await page.wait_for_selector("#conversation-meta:has-text('assigned to lou')")
                await page.click("#notify")
                await page.wait_for_selector("#notify:has-text('Notifications on')")
                assert await page.title() == "Desk"

                await ws.send_json({"type": "message", "client_id": "b", "text": "Still declined"})
                await page.wait_for_selector("#queue li.unread")
                notes = await until(lambda: page.evaluate("() => window.__notes"))
                assert notes[0]["title"] == "New customer message"
                assert await page.title() == "(1) Desk"
                # Opened again: read, the count goes.
                await page.reload()
                await page.wait_for_selector("#messages li:has-text('Still declined')")
                await page.wait_for_selector("#queue li:not(.unread)[data-reference]")
                await until(lambda: _title_is(page, "Desk"))
            finally:
                await context.close()


async def _box(page: Page, selector: str) -> FloatRect | None:
    return await page.locator(selector).bounding_box()


async def _title_is(page: Page, title: str) -> bool:
    return await page.title() == title
