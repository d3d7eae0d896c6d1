"""The bot on the supervisor dashboard: its figures and the questions it could not answer,
built through the whole product (the web form, the real model, the shipped example
articles, the verdict and rating links), on both back-ends, kept to the teams of the
supervisor, in the page, its JSON and its CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser

from classifiers.answers import UNSURE_REASONS
from inbox.config.settings import Settings
from tests.support.browser import ScriptWatch
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


@pytest.fixture
def settings(bot_settings: Settings) -> Settings:
    """The bot answers here, as in the shipped configuration."""
    return bot_settings


# Two ways of asking one thing no shipped article covers, and a different uncovered one
# (hostile on purpose: markup for the page, a formula for the spreadsheet).
GIFT_WRAP = "Do you offer gift wrapping for birthday presents?"
GIFT_WRAP_AGAIN = "Could you gift-wrap my order? It is a present for my sister's birthday."
DISCOUNT = "=1+1 Is there a <b>student discount</b> on the yearly plan?"


@dataclass
class Customer:
    """Someone who wrote through the web form, in a browser of their own."""

    http: aiohttp.ClientSession
    reference: int
    path: str  # their ticket page


async def _write(running: Running, message: str, email: str) -> Customer:
    """Posts the form from a fresh browser (each customer a submitter of their own)."""
    http = aiohttp.ClientSession(cookie_jar=cookie_jar())
    form = {"name": "Cus", "email": email, "subject": "", "message": message}
    async with http.post(running.base + "/form", data=form) as r:
        assert r.status == 200
        page = await r.text()
    ticket = re.search(r'id="ticket">#(\d+)<', page)
    link = re.search(r'id="follow" href="([^"]+)"', page)
    assert ticket is not None and link is not None
    return Customer(http, int(ticket.group(1)), link.group(1))


async def _ticket_page_with(running: Running, customer: Customer, pattern: str) -> str:
    """The customer's ticket page once it shows ``pattern``; returns the first match."""

    async def shown() -> str | None:
        async with customer.http.get(running.base + customer.path) as r:
            found = re.search(pattern, await r.text())
        return found.group(0) if found else None

    match: str = await until(shown)
    return match


async def _events(running: Running, token: str, reference: int, kind: str) -> list[Any]:
    """The conversation's events of ``kind``, once there is one."""

    async def found() -> list[Any] | None:
        status, view = await running.api("GET", f"/api/conversations/{reference}", token)
        if status != 200:
            return None
        return [e for e in view["events"] if e["kind"] == kind] or None

    events: list[Any] = await until(found)
    return events


async def _verdict(running: Running, customer: Customer, verdict: str) -> None:
    """Taps a verdict link under the bot's answer."""
    link = await _ticket_page_with(running, customer, r"/answer/[^\"\s<?]+")
    async with customer.http.post(running.base + link, data={"v": verdict}) as r:
        assert r.status == 200


async def _rate(running: Running, customer: Customer, score: int) -> None:
    """Rates the conversation through the link on the ticket page."""
    link = await _ticket_page_with(running, customer, r"/rate/[A-Za-z0-9_.-]+")
    async with customer.http.post(running.base + link, data={"score": str(score)}) as r:
        assert r.status == 200


async def _as(running: Running, name: str, path: str) -> aiohttp.ClientResponse:
    """``path`` fetched by ``name``, signed in; the body read."""
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, name, TEST_PASSWORD)
        async with http.get(running.base + path) as r:
            await r.read()
            return r


async def _bot_json(running: Running, name: str) -> dict[str, Any]:
    r = await _as(running, name, "/supervisor/bot.json?days=7")
    assert r.status == 200
    body: dict[str, Any] = await r.json()
    return body


async def _the_bots_month(running: Running, token: str) -> dict[str, Customer]:
    """Six new conversations: the bot answers three (a yes then a 5-star rating, a no,
    one left waiting) and abstains on three uncovered questions, one of which an agent
    answers, resolves and gets 2 stars for."""
    who = {
        "yes": await _write(running, "How do I reset my password?", "ya@example.com"),
        "no": await _write(running, "I forgot my password", "na@example.com"),
        "waits": await _write(running, "Where is my order?", "wa@example.com"),
        "gift": await _write(running, GIFT_WRAP, "gi@example.com"),
        "gift2": await _write(running, GIFT_WRAP_AGAIN, "gu@example.com"),
        "discount": await _write(running, DISCOUNT, "di@example.com"),
    }
    for key in ("yes", "no", "waits"):
        await _events(running, token, who[key].reference, "bot_answered")
    for key in ("gift", "gift2", "discount"):
        [abstained] = await _events(running, token, who[key].reference, "bot_abstained")
        assert abstained["data"]["reason"].startswith(UNSURE_REASONS)
    await _verdict(running, who["yes"], "yes")
    await _rate(running, who["yes"], 5)
    await _verdict(running, who["no"], "no")
    await _events(running, token, who["no"].reference, "bot_handed_off")
    base = f"/api/conversations/{who['discount'].reference}"
    assert (await running.api("POST", base + "/reply", token, {"text": "Not yet."}))[0] == 202
    assert (await running.api("POST", base + "/resolve", token))[0] == 200
    await _rate(running, who["discount"], 2)
    return who


async def test_the_bots_figures_and_gaps_for_its_supervisor_and_nobody_else(
    running: Running,
) -> None:
    teams = [t.name for t in running.service.settings.all_teams]
    token = await running.agent_token("sue", *teams, role="supervisor")
    who = await _the_bots_month(running, token)
    try:
        used = set()
        for customer in who.values():
            _, view = await running.api("GET", f"/api/conversations/{customer.reference}", token)
            used.add(view["team"])
        await running.agent_token("oz", next(t for t in teams if t not in used), role="supervisor")
        await running.agent_token("al", *teams)

        report = await _bot_json(running, "sue")
        assert report["days"] == 7
        assert report["bot"] == {
            "new_conversations": 6,
            "answered": 3,
            "answers": 3,
            "answered_share": 0.5,
            "resolved": 1,
            "handed_off": 1,
            "waiting": 1,
            "resolution_rate": 0.5,  # one yes, one no; the waiting one not counted
            "handoff_rate": 0.333,
            "csat": {"bot": {"count": 1, "average": 5.0}, "agents": {"count": 1, "average": 2.0}},
        }
        _assert_gaps(report["gaps"], who)
        await _assert_page(running, who)
        await _assert_csv(running, who)

        # Another team's supervisor sees none of it; an agent may not look.
        other = await _bot_json(running, "oz")
        assert other["bot"]["new_conversations"] == 0 and other["bot"]["answered"] == 0
        assert other["gaps"] == []
        for path in ("/supervisor/bot.json", "/supervisor/kb-gaps.csv"):
            assert (await _as(running, "al", path)).status == 403
    finally:
        for customer in who.values():
            await customer.http.close()


def _tickets(gap: dict[str, Any]) -> set[str]:
    return {c["ticket"] for c in gap["conversations"]}


def _assert_gaps(gaps: list[dict[str, Any]], who: dict[str, Customer]) -> None:
    """The two gift-wrap questions in one group, first; the others alone."""
    assert [g["size"] for g in gaps] == [2, 1, 1]
    gift = gaps[0]
    assert _tickets(gift) == {f"#{who['gift'].reference}", f"#{who['gift2'].reference}"}
    assert gift["question"] in (GIFT_WRAP, GIFT_WRAP_AGAIN)
    singles = {next(iter(_tickets(g))): g for g in gaps[1:]}
    discount = singles[f"#{who['discount'].reference}"]
    assert discount["question"] == DISCOUNT
    assert discount["conversations"][0]["handed_off"] is False
    # The "no": its question, the article it was answered with, and that it was handed off.
    unhelped = singles[f"#{who['no'].reference}"]
    assert unhelped["question"] == "I forgot my password"
    assert unhelped["closest_article"] == "reset-password"
    assert unhelped["article_title"] and unhelped["answered_with_article"] is True
    assert unhelped["confidence"] is None  # it was sure, and wrong: no "nearly" to show
    assert discount["answered_with_article"] is False and discount["confidence"] < 0.97
    assert unhelped["conversations"][0]["handed_off"] is True
    assert f"#{who['yes'].reference}" not in {t for g in gaps for t in _tickets(g)}


async def _assert_page(running: Running, who: dict[str, Customer]) -> None:
    """The page shows the figures and the groups, customer text escaped, with links."""
    r = await _as(running, "sue", "/supervisor?days=7")
    page = await r.text()
    bot = re.search(r'<section id="bot".*?</section>', page, re.S)
    assert bot is not None
    section = bot.group(0)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", section)).split())
    assert "Bot (last 7 days)" in text
    assert "50 % 3 of 6 new conversations, 3 answers" in text
    assert "50 % 1 of 2 with an outcome; 1 still waiting for the customer" in text
    assert "33 % 1 of 3 answered" in text
    assert "The bot 1 5.0" in text and "Agents 1 2.0" in text
    assert "<b>student" not in section and "&lt;b&gt;student discount&lt;/b&gt;" in section
    assert 'href="/agent/kb"' in section and 'href="/agent/kb/reset-password"' in section
    for key in ("gift", "gift2", "discount", "no"):
        assert f'href="/agent#{who[key].reference}"' in section
    assert '<strong aria-current="true">7 days</strong>' in section
    panel = await (await _as(running, "sue", "/supervisor/panel?days=7")).text()
    assert "Bot (last 7 days)" in panel
    # The queues: the conversation the bot holds is nobody's to answer yet.
    queues = re.search(r'<table class="grid" id="queues">.*?</table>', page, re.S)
    assert queues is not None
    lines = re.findall(r"<tr><td>[^<]+</td>((?:<td[^>]*>[^<]*</td>)+)</tr>", queues.group(0))
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", line) for line in lines]
    assert sum(int(c[0]) for c in cells) == 3  # waiting: the "no" and the two gift wraps
    assert sum(int(c[-1]) for c in cells) == 1  # with the bot


async def _assert_csv(running: Running, who: dict[str, Customer]) -> None:
    """The CSV: a group a row, the formula a customer typed defused."""
    r = await _as(running, "sue", "/supervisor/kb-gaps.csv?days=7")
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [row["conversations"] for row in rows] == ["2", "1", "1"]
    assert set(rows[0]["tickets"].split()) == {
        f"#{who['gift'].reference}",
        f"#{who['gift2'].reference}",
    }
    assert "'" + DISCOUNT in [row["question"] for row in rows]


async def test_the_period_holds_while_the_page_follows_new_questions_live(
    running: Running, browser: Browser
) -> None:
    teams = [t.name for t in running.service.settings.all_teams]
    await running.agent_token("viv", *teams, role="supervisor")
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await page.goto(f"{running.base}/supervisor?days=90")
    await page.fill("#name", "viv")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#live-state:has-text('live')")
    assert await page.locator("#gaps-none").count() == 1
    hostile = "<img src=x onerror=\"alert('gap')\"> Do you sell gift vouchers for birthdays?"
    customer = await _write(running, hostile, "vo@example.com")
    try:
        row = page.locator("#kb-gaps tbody tr")
        await row.first.wait_for()  # the panel came again by itself, for the same period
        assert "Do you sell gift vouchers" in await row.first.inner_text()
        assert hostile in await row.first.inner_text()  # shown as text
        assert await page.locator("#bot-heading").inner_text() == "Bot (last 90 days)"
        link = page.locator(f"#kb-gaps a[href='/agent#{customer.reference}']")
        assert await link.count() == 1
        assert watch.dialogs == [] and watch.console_errors == []
    finally:
        await customer.http.close()
