"""Paging in the desk, in Chromium: a view and a search with more than a page of
conversations show 50, say how many in all, and go forward and back a page at a time."""

from __future__ import annotations

import time

from playwright.async_api import Browser, Page
from sqlalchemy import update

from inbox.models import Envelope
from inbox.store.tables import conversations
from tests.support.browser import ScriptWatch, sign_in
from tests.support.service import Running
from tests.support.tickets import ingest_tickets

COUNT = 57  # more than a page (50)
WIDE = {"width": 1280, "height": 800}


async def _many(running: Running) -> None:
    """COUNT billing conversations written straight through the ingest transaction."""
    stamp = time.time()
    mails = [
        Envelope("scripted", f"voucher-{i}", "scripted", f"c{i}", f"My voucher {i} fails", stamp)
        for i in range(COUNT)
    ]
    engine = running.service.engine
    assert engine is not None
    async with engine.begin() as conn:
        await ingest_tickets(conn, running.service.settings, mails, first_reference=70000)
        await conn.execute(update(conversations).values(team="billing"))


async def _rows(page: Page) -> list[int]:
    refs = await page.eval_on_selector_all(
        "#queue li[data-reference]", "rows => rows.map(r => Number(r.dataset.reference))"
    )
    return [int(r) for r in refs]


async def _pages_through(page: Page, more: str, back: str) -> None:
    """50 shown of COUNT; More shows the rest, Back the first 50 again."""
    await page.wait_for_selector(f".pager:has-text('1–50 of {COUNT}')")
    first = await _rows(page)
    assert len(first) == 50
    await page.click(more)
    await page.wait_for_selector(f".pager:has-text('51–{COUNT} of {COUNT}')")
    rest = await _rows(page)
    assert len(rest) == COUNT - 50 and not set(rest) & set(first)
    await page.click(back)
    await page.wait_for_selector(f".pager:has-text('1–50 of {COUNT}')")
    assert await _rows(page) == first


async def test_a_view_and_a_search_page_forward_and_back(
    running: Running, browser: Browser
) -> None:
    await _many(running)
    await running.agent_token("sam", "billing")
    context = await browser.new_context(viewport=WIDE)  # type: ignore[arg-type]
    page = await context.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    try:
        await sign_in(page, running.base, "sam")
        await page.wait_for_selector("#list[data-view='all']")
        await _pages_through(page, "#page-next", "#page-back")

        await page.keyboard.press("/")
        await page.fill("#search-q", "voucher")
        await page.wait_for_selector(f"#search-count:has-text('{COUNT} results')")
        await _pages_through(page, "#search-page-next", "#search-page-back")
        assert watch.console_errors == []
    finally:
        await context.close()
