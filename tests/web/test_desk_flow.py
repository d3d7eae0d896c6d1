"""An agent's day in a real browser: sign in, take the next conversation, answer it with a
canned reply, and the customer sees the answer in their chat. A reply written while the
customer wrote again is held; notes stay internal; the customer's history is there."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.store.accounts import Accounts
from tests.support.browser import sign_in
from tests.support.mailbox import Mailbox
from tests.support.service import Running
from tests.support.smtp_server import SmtpServer
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def test_take_the_next_conversation_and_answer_it_in_the_customers_chat(
    running: Running, browser: Browser
) -> None:
    await running.agent_token("ada", "billing", "triage")
    customer = await browser.new_page()
    await customer.goto(f"{running.base}/chat")
    await customer.wait_for_selector("#chat-status:has-text('Connected')")
    await customer.fill("#chat-input", "I was charged twice for my subscription this month")
    await customer.click("#chat-form button[type=submit]")
    await customer.wait_for_selector("#chat-log li:has-text('Your ticket is')")

    agent = await browser.new_page()
    await sign_in(agent, running.base, "ada")
    await agent.wait_for_selector("#queue li a:has-text('webchat')")
    await agent.click("#take-next")
    await agent.wait_for_selector("#conversation-meta:has-text('assigned to ada')")
    assert "charged twice" in await agent.inner_text("#messages")
    await agent.select_option("#canned", label="Looking into it")
    draft = await agent.input_value("#reply-text")
    assert draft.startswith("Hello there,") and "ada, " in draft and "#" in draft
    await agent.fill("#reply-text", draft + "\nThe second charge is a pre-authorisation.")
    await agent.click("#reply button[type=submit]")
    await agent.wait_for_selector("#status:has-text('Answer queued')")

    await customer.wait_for_selector("#chat-log li:has-text('pre-authorisation')")
    answer = await customer.inner_text("#chat-log")
    assert "I am looking into ticket" in answer

    await agent.fill("#note-text", "Check the card processor logs")
    await agent.click("#note button[type=submit]")
    await agent.wait_for_selector("#messages li.note:has-text('Internal note by ada')")
    assert "card processor" not in await customer.inner_text("#chat-log")


async def test_an_answer_is_held_when_the_customer_wrote_again(
    running: Running, browser: Browser
) -> None:
    token = await running.agent_token("bex", "billing", "triage")
    first = await running.submit(email="kim@example.com", message="My invoice total is wrong")
    reference = first["reference"]

    async def shown() -> bool:
        status, _ = await running.api("GET", f"/api/conversations/{reference}", token)
        return status == 200

    await until(shown)
    agent = await browser.new_page()
    await sign_in(agent, running.base, "bex")
    await agent.evaluate("ref => { window.location.hash = '#' + ref; }", reference)
    await agent.wait_for_selector(f"#conversation-title:has-text('#{reference}')")
    await agent.fill("#reply-text", "Which invoice number is it?")

    # The customer writes again (by the ticket number) before the agent sends.
    await running.submit(
        email="kim@example.com", message=f"About #{reference}: it is invoice 2211, due today"
    )

    async def two_messages() -> bool:
        _, view = await running.api("GET", f"/api/conversations/{reference}", token)
        return len([m for m in view["messages"] if m["direction"] == "in"]) == 2

    await until(two_messages)
    await agent.click("#reply button[type=submit]")
    await agent.wait_for_selector("#changed:has-text('not sent')")
    assert await agent.input_value("#reply-text") == "Which invoice number is it?"
    assert "invoice 2211" in await agent.inner_text("#messages")
    _, view = await running.api("GET", f"/api/conversations/{reference}", token)
    assert not [m for m in view["messages"] if m["author"] == "agent"]  # nothing went out

    await agent.click("#reply button[type=submit]")  # now the agent has seen it
    await agent.wait_for_selector("#status:has-text('Answer queued')")


async def test_the_conversation_shows_the_customers_other_tickets(running: Running) -> None:
    token = await running.agent_token("cal", "billing", "orders", "triage")
    older = await running.submit(email="lou@example.com", message="Where is my parcel?")
    newer = await running.submit(
        email="lou@example.com", message="Separate question: can I get a VAT invoice?"
    )

    async def history() -> list[int] | None:
        status, view = await running.api("GET", f"/api/conversations/{newer['reference']}", token)
        if status != 200:
            return None
        return [h["reference"] for h in view["history"]] or None

    assert await until(history) == [older["reference"]]
    _, view = await running.api("GET", f"/api/conversations/{newer['reference']}", token)
    # A form sender: the typed address and the browser's key, not verified.
    (identity,) = view["customer"]["identities"]
    assert (identity["channel"], identity["verified"]) == ("form", False)
    assert identity["address"].startswith("lou@example.com#")
    assert identity["display"] == "lou@example.com"  # what the desk shows: no key digest


async def test_assign_within_the_team_only(running: Running) -> None:
    token = await running.agent_token("dan", "billing", "triage")
    await running.agent_token("eva", "billing")
    await running.agent_token("fay", "orders")
    ticket = await running.submit(email="gus@example.com", message="Refund for my last invoice")
    base = f"/api/conversations/{ticket['reference']}"

    async def team() -> str | None:
        status, view = await running.api("GET", base, token)
        return str(view["team"]) if status == 200 else None

    assert await until(team) in ("billing", "triage")
    _, view = await running.api("GET", base, token)
    if view["team"] != "billing":
        await running.api("POST", base + "/reassign", token, {"team": "billing"})
    status, body = await running.api("POST", base + "/assign", token, {"agent": "eva"})
    assert (status, body) == (200, {"assignee": "eva"})
    status, body = await running.api("POST", base + "/assign", token, {"agent": "fay"})
    assert status == 404 and "works in billing" in body["error"]
    status, body = await running.api("POST", base + "/assign", token, {"agent": None})
    assert (status, body) == (200, {"assignee": None})
    _, people = await running.api("GET", "/api/agents", token)
    assert {p["name"] for p in people["agents"]} == {"dan", "eva"}  # fay shares no team


async def test_a_form_ticket_can_be_answered_by_email(
    mailbox: Mailbox, smtp_server: SmtpServer
) -> None:
    service = await mailbox.start()
    assert service.engine is not None
    teams = [t.name for t in mailbox.settings.all_teams]
    _agent, token = await Accounts(service.engine).add_agent("hal", teams)
    base = f"http://127.0.0.1:{service.port}"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            base + "/api/messages",
            json={"email": "ida@example.com", "message": "Please send my invoice by mail"},
        ) as r:
            receipt = await r.json()
        reference = receipt["reference"]

        async def options() -> list[dict[str, Any]] | None:
            async with http.get(f"{base}/api/conversations/{reference}") as r:
                if r.status != 200:
                    return None
                found: list[dict[str, Any]] = (await r.json())["customer"]["reply_options"]
                return found

        # A typed address is not mailed until its owner confirms it.
        (own,) = await until(options)
        assert own["channel"] == "form" and own["address"].startswith("ida@example.com#")
        assert own["display"] == "ida@example.com"
        (confirmation,) = await smtp_server.wait_for(1, timeout=30)
        body = confirmation.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https?://\S+(/form/confirm/\S+)", body)
        assert link is not None
        async with http.post(base + link.group(1)) as r:
            assert r.status == 200
        assert await options() == [
            own,
            {
                "channel": "email",
                "address": "ida@example.com",
                "display": "ida@example.com",
                "own": False,
                "last": False,
            },
        ]
        url = f"{base}/api/conversations/{reference}/reply"
        async with http.post(url, json={"text": "Attached.", "channel": "telegram"}) as r:
            assert r.status == 404 and "cannot be answered on 'telegram'" in await r.text()
        async with http.post(url, json={"text": "Here it is.", "channel": "email"}) as r:
            assert r.status == 202

    def mailed() -> list[Any]:
        return [
            m
            for m in smtp_server.received
            if "ida@example.com" in m.rcpt_tos and "Here it is." in m.message.get_content()
        ]

    [mail] = await until(mailed)
    assert f"[#{reference}]" in str(mail.message["Subject"])
