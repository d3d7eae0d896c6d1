"""The bot on the web form and its ticket page: the whole product, real model, the shipped
example knowledge base, both back-ends."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import Settings
from inbox.kb.articles import Article
from inbox.pipeline.bot.moves import BotTools
from inbox.pipeline.bot.settle import settle
from inbox.store.kb import KnowledgeBase
from inbox.store.sla_clocks import clocks_for
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


@pytest.fixture
def settings(bot_settings: Settings) -> Settings:
    """The bot answers here, as in the shipped configuration."""
    return bot_settings


QUESTION = "How do I reset my password?"


async def _submit(
    running: Running, message: str, email: str = "ada@example.com"
) -> tuple[int, str]:
    """Posts the form; returns the ticket reference and the ticket page's path."""
    form = {"name": "Ada", "email": email, "subject": "", "message": message}
    async with running.http.post(running.base + "/form", data=form) as r:
        assert r.status == 200
        page = await r.text()
    ticket = re.search(r'id="ticket">#(\d+)<', page)
    link = re.search(r'id="follow" href="([^"]+)"', page)
    assert ticket is not None and link is not None
    return int(ticket.group(1)), link.group(1)


async def _view(running: Running, token: str, reference: int) -> dict[str, Any]:
    async def stored() -> dict[str, Any] | None:
        status, body = await running.api("GET", f"/api/conversations/{reference}", token)
        return body if status == 200 and body["messages"] else None

    view: dict[str, Any] = await until(stored)
    return view


async def _page_text(running: Running, path: str) -> str:
    async with running.http.get(running.base + path) as r:
        assert r.status == 200
        return await r.text()


async def _bot_answered(running: Running, path: str) -> str:
    async def shown() -> str | None:
        page = await _page_text(running, path)
        return page if "automatic answer" in page else None

    page: str = await until(shown)
    return page


async def test_a_covered_question_gets_the_article_at_once_and_yes_resolves(
    running: Running,
) -> None:
    token = await running.agent_token("sam", "accounts", "general", "technical", role="supervisor")
    reference, path = await _submit(running, QUESTION)
    page = await _bot_answered(running, path)
    # Automatic, the article's title and passage, its page, the ticket, the question.
    assert "Forgot password" in page or "forgot password" in page.lower()
    assert '<a href="/kb/reset-password">' in page  # the article and the choices are links
    # The choices are buttons on the ticket page (email gets them as links).
    assert re.search(r'<form method="post" action="/answer/[^"]+" class="choices"', page)
    assert 'name="v" value="yes">Yes, that solved it</button>' in page
    assert f"#{reference}" in page
    assert "Did this solve your problem?" in page
    view = await _view(running, token, reference)
    assert view["bot_state"] == "holding"
    bot = [m for m in view["messages"] if m["author"] == "bot"]
    assert len(bot) == 1, "the bot's answer replaces the acknowledgement: one answer"
    answered = [e for e in view["events"] if e["kind"] == "bot_answered"]
    assert len(answered) == 1
    data = answered[0]["data"]
    assert data["article"] == "reset-password" and data["version"] == 1
    assert data["confidence"] >= data["threshold"] == pytest.approx(0.97)
    assert data["evidence"]["matched"]
    # Nobody's queue while the bot holds it.
    status, listing = await running.api("GET", "/api/conversations", token)
    assert status == 200
    assert reference not in [c["reference"] for c in listing["conversations"]]

    # "Yes" on the ticket page's link: resolved by the bot, thanked, asked for a rating.
    yes = re.search(r'action="(/answer/[^"]+)"', page)
    assert yes is not None
    async with running.http.get(running.base + yes.group(1) + "?v=yes") as r:
        assert r.status == 200
        assert "Did our answer help" in await r.text()
    view = await _view(running, token, reference)
    assert view["bot_state"] == "holding", "opening the link records nothing"
    async with running.http.post(running.base + yes.group(1), data={"v": "yes"}) as r:
        assert r.status == 200
        assert "Glad it helped" in await r.text()
    view = await _view(running, token, reference)
    assert view["status"] == "resolved" and view["bot_state"] == "resolved"
    kinds = [e["kind"] for e in view["events"]]
    assert "csat_requested" in kinds
    assert any(e["kind"] == "resolved" and e["actor"] == "bot" for e in view["events"])
    # A second tap changes nothing.
    async with running.http.post(running.base + yes.group(1), data={"v": "no"}) as r:
        assert "already has this ticket" in await r.text()
    view = await _view(running, token, reference)
    assert view["status"] == "resolved"


async def test_no_hands_off_to_the_team_with_the_bot_attempt_and_the_first_message_clock(
    running: Running,
) -> None:
    token = await running.agent_token("amy", "accounts")
    reference, path = await _submit(running, QUESTION, "bo@example.com")
    page = await _bot_answered(running, path)
    no = re.search(r'action="(/answer/[^"]+)"', page)
    assert no is not None
    async with running.http.post(running.base + no.group(1), data={"v": "no"}) as r:
        assert "A person from our team now has your ticket" in await r.text()
    view = await _view(running, token, reference)
    assert view["bot_state"] == "handed_off" and view["team"] == "accounts"
    handed = [e for e in view["events"] if e["kind"] == "bot_handed_off"]
    assert handed and "did not help" in handed[0]["data"]["reason"]
    # In the team's queue now, the bot's attempt in the conversation.
    status, listing = await running.api("GET", "/api/conversations", token)
    assert status == 200
    assert reference in [c["reference"] for c in listing["conversations"]]
    bot = [m["text"] for m in view["messages"] if m["author"] == "bot"]
    assert any("automatic answer" in t for t in bot)
    assert any("a person will answer you here" in t for t in bot)
    # The clock counts from the customer's first message, not from the handoff.
    first = [t for t in view["sla"] if t["target"] == "first_response"]
    assert first and first[0]["started_at"] == pytest.approx(view["created_at"], abs=1.0)

    # The agent who opens it reads what the bot did and why it let go.
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        assert (await sign_in_http(http, running.base, "amy", TEST_PASSWORD)).status == 303
        async with http.get(f"{running.base}/agent/conversations/{reference}") as r:
            desk = await r.text()
    assert "The bot answered with" in desk and "reset-password, version 1" in desk
    assert "Handed to a person: the customer said the answer did not help." in desk

    # The customer is told on the ticket page.
    async def told() -> bool:
        return "a person will answer you here" in await _page_text(running, path)

    await until(told)


async def test_urgent_or_angry_messages_never_get_a_bot_answer(running: Running) -> None:
    token = await running.agent_token("ian", "accounts", "general", "technical", role="supervisor")
    text = "URGENT!!! I need to reset my password right now, this is a disgrace"
    reference, _path = await _submit(running, text, "cy@example.com")
    view = await _view(running, token, reference)
    assert view["bot_state"] == ""
    assert view["priority"] in ("high", "urgent")
    bot = [m["text"] for m in view["messages"] if m["author"] == "bot"]
    assert len(bot) == 1 and "automatic answer" not in bot[0] and "we have your message" in bot[0]
    abstained = [e for e in view["events"] if e["kind"] == "bot_abstained"]
    assert abstained and abstained[0]["data"]["reason"].startswith("triaged")


async def test_a_draft_never_answers_and_a_published_article_does_at_once(
    running: Running,
) -> None:
    assert running.service.engine is not None
    kb = KnowledgeBase(running.service.engine)
    article = Article(
        id="lighthouse-tours",
        title="Visiting the lighthouse",
        body="Lighthouse tours start at the harbour gate every Sunday at ten; bring a coat.",
        questions=("When do lighthouse tours start?", "Can I visit the lighthouse?"),
    )
    await kb.create_draft(article, "ann")
    token = await running.agent_token("lee", "general", "accounts", "technical", role="supervisor")
    question = "When do the lighthouse tours start?"
    reference, _ = await _submit(running, question, "di@example.com")
    view = await _view(running, token, reference)
    assert view["bot_state"] == ""
    assert all("lighthouse" not in m["text"].lower() for m in view["messages"][1:])
    await kb.publish("lighthouse-tours")
    reference, path = await _submit(running, question, "ed@example.com")
    page = await _bot_answered(running, path)
    assert "harbour gate" in page


async def test_a_language_no_article_is_written_in_gets_no_bot_answer(running: Running) -> None:
    token = await running.agent_token("uma", "accounts", "general", "triage", role="supervisor")
    text = "Hallo, wie kann ich bitte mein Passwort zurücksetzen? Ich komme nicht mehr hinein."
    reference, _path = await _submit(running, text, "fe@example.com")
    view = await _view(running, token, reference)
    assert view["bot_state"] == ""
    abstained = [e for e in view["events"] if e["kind"] == "bot_abstained"]
    assert (
        abstained
        and "no article is written in this language (de)" in abstained[0]["data"]["reason"]
    )


async def test_a_bot_answer_nobody_replies_to_is_settled_quietly_after_settle_hours(
    running: Running,
) -> None:
    service = running.service
    assert service.engine is not None
    token = await running.agent_token("ola", "accounts", role="supervisor")
    reference, _path = await _submit(running, QUESTION, "gu@example.com")
    view = await _view(running, token, reference)
    assert view["bot_state"] == "holding"
    tools = BotTools(service.settings, clocks_for(service.settings), service.links)
    hours = service.settings.kb.settle_hours
    assert await settle(service.engine, tools, at=view["updated_at"] + hours * 3600 - 60) == []
    settled = await settle(service.engine, tools, at=view["updated_at"] + hours * 3600 + 60)
    assert len(settled) == 1
    view = await _view(running, token, reference)
    assert (view["status"], view["bot_state"]) == ("resolved", "resolved")
    resolved = [e for e in view["events"] if e["kind"] == "resolved"]
    assert resolved[0]["actor"] == "bot" and "no reply" in resolved[0]["data"]["why"]
    # Quietly: no thanks, no rating request a day later.
    assert [m["author"] for m in view["messages"]] == ["customer", "bot"]


async def test_a_forged_answer_link_is_refused(running: Running) -> None:
    for path in (
        "/answer/1001.forged",
        "/answer/MTAwMQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ):
        async with running.http.get(running.base + path + "?v=yes") as r:
            assert r.status == 404
        async with running.http.post(running.base + path, data={"v": "yes"}) as r:
            assert r.status == 404
