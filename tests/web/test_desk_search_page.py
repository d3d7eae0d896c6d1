"""Search in the desk, in Chromium at 1,280×800 on both back-ends: ``/`` to the box, a
conversation found by a word of its text, by its ticket number and by the customer's
address, filters, the results in the list's place and row shape with their count, Esc back
to the view — and never another team's conversation (screenshot in var/screenshots)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.support.browser import ScriptWatch
from tests.support.paths import ROOT
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

SHOTS = ROOT / "var" / "screenshots"
ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
WIDE = {"width": 1280, "height": 800}
# address: (team, what they wrote)
CUSTOMERS = {
    "carla@example.com": ("billing", "I was charged twice for my subscription this month"),
    "erin@example.org": ("orders", "My parcel 5512 has not arrived after two weeks"),
    "frank@example.net": ("orders", "The jacket is the wrong size, can I swap it?"),
    "zoe@example.com": ("accounts", "I was charged twice as well, please refund me"),
}


async def _tickets(running: Running) -> dict[str, int]:
    """One ticket per customer, each moved to its team by a supervisor of them all."""
    boss = await running.agent_token("boss", *ALL_TEAMS)
    refs = {}
    for address, (_team, words) in CUSTOMERS.items():
        refs[address] = int((await running.submit(email=address, message=words))["reference"])
    store = store_of(running.service.settings)
    await until(lambda: store.count("SELECT count(*) FROM conversations") == len(CUSTOMERS))
    for address, (team, _words) in CUSTOMERS.items():
        _status, found = await running.api("GET", f"/api/conversations/{refs[address]}", boss)
        if found["team"] != team:
            path = f"/api/conversations/{refs[address]}/reassign"
            assert (await running.api("POST", path, boss, {"team": team}))[0] == 200
    return refs


async def _search(page: Page, typed: str) -> list[int]:
    """Types into the box (after ``/``), waits for its results, returns their tickets."""
    await page.keyboard.press("/")
    await page.fill("#search-q", typed)
    await page.wait_for_function(
        "typed => { const l = document.getElementById('list'); return l.dataset.q === typed; }",
        arg=typed.strip(),
    )
    refs = await page.eval_on_selector_all(
        "#queue li[data-reference]", "rows => rows.map(r => Number(r.dataset.reference))"
    )
    return [int(r) for r in refs]


async def _shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


async def test_search_by_word_ticket_and_address_never_another_teams(
    running: Running, browser: Browser
) -> None:
    refs = await _tickets(running)
    carla, erin, frank, zoe = (refs[a] for a in CUSTOMERS)
    await running.agent_token("sam", "billing", "orders")
    context = await browser.new_context(viewport=WIDE)  # type: ignore[arg-type]
    page = await context.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    try:
        await page.goto(f"{running.base}/agent")
        await page.fill("#name", "sam")
        await page.fill("#password", TEST_PASSWORD)
        await page.click("#login button[type=submit]")
        await page.wait_for_selector("#list-title:has-text('3')")  # all open: 3 of mine

        assert await _search(page, "charged twice") == [carla]  # not zoe's: another team
        await page.wait_for_selector("#search-count:has-text('1 result')")
        row = page.locator(f"#queue li[data-reference='{carla}']")
        assert "carla@example.com" in await row.inner_text()  # the list's row shape
        assert "charged twice" in await row.inner_text()
        assert (await _shot(page, "desk-search")).stat().st_size > 10_000

        # A reload keeps the search (it is in the address).
        assert "q=charged+twice" in page.url
        await page.reload()
        await page.wait_for_selector("#list[data-q='charged twice']")
        assert await page.input_value("#search-q") == "charged twice"

        assert await _search(page, f"#{erin}") == [erin]
        assert await _search(page, str(zoe)) == []  # another team's ticket is not there
        await page.wait_for_selector("#search-count:has-text('0 results')")
        assert await _search(page, "erin@example.org") == [erin]
        assert await _search(page, "zoe@example.com") == []
        assert sorted(await _search(page, "arrived jack")) == []  # every word must match
        assert await _search(page, "swap jack") == [frank]  # the last word a prefix

        # A filter alone lists what it holds; the box and a filter narrow each other.
        await page.fill("#search-q", "")
        await page.click("#search-filters summary")
        await page.select_option("select[name=team]", "orders")
        await page.wait_for_selector("#list[data-search*='team=orders'] #search-count")
        await page.wait_for_selector("#search-count:has-text('2 results')")
        await page.fill("#search-q", "parcel")
        await page.wait_for_selector("#list[data-search*='q=parcel'] #search-count")
        await page.wait_for_selector("#search-count:has-text('1 result')")
        assert (await _shot(page, "desk-search-filters")).stat().st_size > 10_000
        await page.select_option("select[name=team]", "billing")
        await page.wait_for_selector("#list[data-search*='team=billing'] #search-count")
        await page.wait_for_selector("#search-count:has-text('0 results')")
        await page.click("#search-reset")
        await page.wait_for_selector("#list:not([data-search]) #list-title:has-text('All open')")
        await page.click("#placeholder")  # a click elsewhere folds the filters away
        await page.wait_for_selector("#search-filters:not([open])")

        # A result opens like a row of the list; Esc in the box goes back to the view.
        assert await _search(page, "parcel") == [erin]
        await page.click(f"#queue li[data-reference='{erin}'] a")
        await page.wait_for_selector(f"#conversation-title[data-reference='{erin}']")
        await page.keyboard.press("/")
        await page.keyboard.press("Escape")
        await page.wait_for_selector("#list[data-view='all']:not([data-search])")
        await page.wait_for_selector("#list-title:has-text('All open')")
        assert await page.input_value("#search-q") == ""
        assert "q=" not in page.url
        assert watch.console_errors == []
    finally:
        await context.close()
