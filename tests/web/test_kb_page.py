"""The public article page: a published article on its own page, 404 for anything else,
and an article's own HTML shown as text, never run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.kb.articles import Article
from inbox.service.app import InboxService
from inbox.store.kb import KnowledgeBase
from tests.support.browser import ScriptWatch
from tests.support.config import make_settings

HOSTILE = """---
id: hostile
title: Payments <script>window.__pwned = 1</script>
---
# Payments <script>window.__pwned = 1</script>

We take cards. <script>alert('pwned'); window.__pwned = 1</script>
<img src=x onerror="fetch('/pwned'); window.__pwned = 1">

- **Cards**: [details](javascript:alert('pwned'))
- <a href="/pwned" onclick="window.__pwned = 1">click</a>
- [Our terms](https://example.com/terms?a=1&b=2)

<iframe src="/pwned"></iframe>
"""


class _Tags(HTMLParser):
    """Every tag and attribute a page really has (its escaped text is not a tag)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


@pytest.fixture
async def web_service(tmp_path: Path) -> AsyncIterator[InboxService]:
    """The web role alone (no model needed), with a folder of two articles."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "hostile.md").write_text(HOSTILE)
    (folder / "opening-hours.md").write_text(
        "---\nteam: general\n---\n# Opening hours\n\nWe answer **Monday to Friday**.\n\n"
        "## Holidays\n\n1. Closed on public holidays.\n"
    )
    service = InboxService(make_settings(tmp_path, kb={"path": str(folder)}), roles=["web"])
    await service.start()
    yield service
    await service.stop()


async def _get(service: InboxService, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{service.port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_a_published_article_has_its_own_page(web_service: InboxService) -> None:
    status, page = await _get(web_service, "/kb/opening-hours")
    assert status == 200
    assert "<h1>Opening hours</h1>" in page
    assert page.count("Opening hours</h") == 1  # the body's first heading is the title
    assert "<strong>Monday to Friday</strong>" in page
    assert "<h2>Holidays</h2>" in page and "<li>Closed on public holidays.</li>" in page


async def test_drafts_retired_and_unknown_articles_are_not_found(
    web_service: InboxService,
) -> None:
    assert web_service.engine is not None
    kb = KnowledgeBase(web_service.engine)
    await kb.save_draft(Article(id="new-prices", title="New prices", body="Soon."), "ria")
    await kb.retire("opening-hours")
    for article_id in ("new-prices", "opening-hours", "no-such-article", "..%2Fetc", "A" * 300):
        status, page = await _get(web_service, f"/kb/{article_id}")
        assert status == 404, article_id
        assert "Article not found" in page and "Soon." not in page
    await kb.publish("new-prices")
    assert (await _get(web_service, "/kb/new-prices"))[0] == 200


async def test_an_articles_own_html_is_shown_as_text_and_never_runs(
    web_service: InboxService, browser: Browser
) -> None:
    status, html = await _get(web_service, "/kb/hostile")
    assert status == 200
    tags = _Tags()
    tags.feed(html)
    assert not tags.found & {"script", "img", "iframe"}, tags.found
    assert [a for a in tags.attributes if a[0].startswith("on")] == []
    assert all(not v.startswith("javascript") for n, v in tags.attributes if n == "href")
    assert '<a href="https://example.com/terms?a=1&amp;b=2" rel="nofollow noopener' in html
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await page.goto(f"http://127.0.0.1:{web_service.port}/kb/hostile")
    await page.click("text=details")  # a javascript: link is plain text: nothing happens
    await page.wait_for_load_state("load")
    assert await watch.flag(page) is None
    assert watch.dialogs == [] and watch.beacons == []
    assert "<script>alert('pwned')" in await page.inner_text("article")  # shown, as text
