"""A web form customer hears back: the ticket page shows an agent's answer live, without a
reload; with a mailbox, the answer is also mailed, once, to an address its owner confirmed,
never to one nobody confirmed; and the page says which."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser
from sqlalchemy import select

from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from inbox.store.form_copies import AGENT_EMAIL_COPY, COPIED, EMAIL_COPY
from inbox.store.tables import events, outbox
from tests.support.browser import ScriptWatch
from tests.support.mailbox import Mailbox
from tests.support.service import Running
from tests.support.smtp_server import ReceivedMail, SmtpServer
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
PARCEL = "My parcel has not arrived, it was due last Tuesday"


async def test_the_ticket_page_shows_an_agents_answer_without_a_reload(
    running: Running, browser: Browser
) -> None:
    token = await running.agent_token("ida", *ALL_TEAMS)
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await page.goto(f"{running.base}/form")
    await page.fill("#email", "lea@example.com")
    await page.fill("#message", PARCEL)
    await page.click("form button[type=submit]")
    await page.wait_for_selector("#follow")
    # No mailbox in this set-up: the receipt and the page say the page is all there is.
    assert "We will not email you: this service sends no email" in await page.inner_text(
        "#mail-note"
    )
    reference = int((await page.inner_text("#ticket")).lstrip("#"))
    await page.click("#follow")
    await page.wait_for_selector("#ticket-page")
    note = await page.inner_text("#mail-note")
    assert note.startswith("We will not email you:") and "keep its address" in note
    # Mark this document: a reload or a navigation would make a new one without it.
    await page.evaluate("() => { window.__same_document = true; }")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    async def stored() -> bool:
        status, _ = await running.api("GET", f"/api/conversations/{reference}", token)
        return status == 200

    await until(stored)
    status, body = await running.api(
        "POST",
        f"/api/conversations/{reference}/reply",
        token,
        {"text": "Your parcel leaves our depot today."},
    )
    assert status == 202, body
    await page.wait_for_selector(".transcript li.agent:has-text('leaves our depot today')")
    assert await page.evaluate("() => window.__same_document") is True
    assert navigations == []
    # Each message's box holds its lines and nothing more: no blank lines from the page's
    # own markup around them (the text keeps its line breaks).
    await page.reload()
    await page.wait_for_selector(".transcript li.agent")
    spare = await page.evaluate(SPARE_SPACE)  # the message, the receipt, the answer
    assert len(spare) == 3 and max(spare) < 10, spare  # a blank line would be 20 or more
    assert watch.console_errors == []


# For each message box: its height less its padding and its parts' (with their margins),
# rounded to whole pixels (the name's line box is a few pixels taller than its text).
SPARE_SPACE = """() => [...document.querySelectorAll('.transcript > li')].map(li => {
  const box = getComputedStyle(li);
  let parts = 0;
  for (const child of li.children) {
    const style = getComputedStyle(child);
    parts += child.getBoundingClientRect().height
      + parseFloat(style.marginTop) + parseFloat(style.marginBottom);
  }
  const inner = li.getBoundingClientRect().height
    - parseFloat(box.paddingTop) - parseFloat(box.paddingBottom);
  return Math.max(0, Math.round(inner - parts));
})"""


async def test_a_ticket_stream_needs_a_link_made_by_the_server(running: Running) -> None:
    async with running.http.get(running.base + "/ticket/bm90LXNpZ25lZA.AAAA/live") as r:
        assert r.status == 404


def _mails_to(smtp: SmtpServer, address: str, words: str) -> list[ReceivedMail]:
    return [
        m
        for m in smtp.received
        if address in m.rcpt_tos and words in m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ]


async def _reply(http: aiohttp.ClientSession, base: str, reference: int, text: str) -> None:
    async with http.post(f"{base}/api/conversations/{reference}/reply", json={"text": text}) as r:
        assert r.status == 202, await r.text()


async def _page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        assert r.status == 200
        return await r.text()


async def _submit(http: aiohttp.ClientSession, base: str, email: str) -> tuple[int, str]:
    """A form message from ``email``: its reference and its ticket page's address."""
    async with http.post(base + "/api/messages", json={"email": email, "message": PARCEL}) as r:
        receipt = await r.json()
    return int(receipt["reference"]), base + receipt["ticket_url"]


async def _copies(service: InboxService) -> list[Any]:
    assert service.engine is not None
    async with service.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(outbox.c.address, outbox.c.state, outbox.c.channel, outbox.c.kind).where(
                        outbox.c.kind.in_([EMAIL_COPY, AGENT_EMAIL_COPY])
                    )
                )
            ).all()
        )


async def _started(mailbox: Mailbox) -> tuple[InboxService, str, dict[str, str]]:
    service = await mailbox.start()
    assert service.engine is not None
    teams = [t.name for t in mailbox.settings.all_teams]
    _agent, token = await Accounts(service.engine).add_agent("hal", teams)
    return service, f"http://127.0.0.1:{service.port}", {"Authorization": f"Bearer {token}"}


async def test_with_a_mailbox_an_answer_is_mailed_once_to_a_confirmed_address(
    mailbox: Mailbox, smtp_server: SmtpServer
) -> None:
    service, base, headers = await _started(mailbox)
    async with aiohttp.ClientSession(headers=headers) as http:
        reference, page_url = await _submit(http, base, "ida@example.com")
        (confirmation,) = await smtp_server.wait_for(1, timeout=30)
        body = confirmation.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https?://\S+(/form/confirm/\S+)", body)
        assert link is not None
        assert "We will not email you: ida@example.com is not confirmed" in await _page(
            http, page_url
        )
        async with http.post(base + link.group(1)) as r:
            assert r.status == 200
        assert "We also email answers to ida@example.com." in await _page(http, page_url)

        await _reply(http, base, reference, "Your parcel leaves our depot today.")
        [mail] = await until(lambda: _mails_to(smtp_server, "ida@example.com", "depot today"))
        assert f"[#{reference}]" in str(mail.message["Subject"])
        # A person's answer: not marked automatic (RFC 3834), so it is not filtered away.
        assert mail.message["Auto-Submitted"] is None
        text = mail.message.get_body(("plain",)).get_content()
        # It leads to the ticket page, which has the answer too (the page's; the mail
        # is its copy).
        ticket_link = re.search(r"https?://\S+(/ticket/\S+)", text)
        assert ticket_link is not None
        assert "leaves our depot today" in await _page(http, base + ticket_link.group(1))

        # A second answer is mailed as well; by then the first went out exactly once.
        await _reply(http, base, reference, "It will be with you on Friday.")
        await until(lambda: _mails_to(smtp_server, "ida@example.com", "on Friday"))
        assert len(_mails_to(smtp_server, "ida@example.com", "depot today")) == 1
    copies = await _copies(service)
    assert sorted((c.kind, c.state) for c in copies) == [(AGENT_EMAIL_COPY, "sent")] * 2
    assert {(c.address, c.channel) for c in copies} == {
        ("ida@example.com", mailbox.settings.email[0].name)
    }
    assert service.engine is not None
    async with service.engine.connect() as conn:
        mailed = (await conn.execute(select(events.c.data).where(events.c.kind == COPIED))).all()
    assert len(mailed) == 2 and all(m.data["to"] == "ida@example.com" for m in mailed)


async def test_with_a_mailbox_an_unconfirmed_address_is_not_mailed_and_the_page_says_why(
    mailbox: Mailbox, smtp_server: SmtpServer
) -> None:
    service, base, headers = await _started(mailbox)
    async with aiohttp.ClientSession(headers=headers) as http:
        reference, page_url = await _submit(http, base, "max@example.com")
        await smtp_server.wait_for(1, timeout=30)  # the confirmation link, never opened
        await _reply(http, base, reference, "Your parcel leaves our depot today.")

        async def answered() -> str | None:
            page = await _page(http, page_url)
            return page if "leaves our depot today" in page else None

        page = await until(answered)
        assert "We will not email you: max@example.com is not confirmed" in page
    # The answer was queued with no copy (a copy is queued with its answer or never).
    assert await _copies(service) == []
    assert _mails_to(smtp_server, "max@example.com", "depot today") == []
