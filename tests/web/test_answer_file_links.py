"""Files from agents on the web channels: the chat and the ticket page link to each file,
and the customer opens the link without any session (the signed link is the key); the
file is always a download, an HTML file never rendered; a forged link opens nothing. The
desk shows the files on the agent's message, and its composer sends them (in Chromium)."""

from __future__ import annotations

import asyncio
import re
from html import unescape
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload

from tests.support.browser import ScriptWatch, open_conversation, sign_in
from tests.support.service import Running
from tests.support.staff_web import signed_in
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

MB = 1024 * 1024
ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
GUIDE = ("guide.pdf", "application/pdf", b"%PDF-1.4 how to update " * 50)
PAGE = ("page.html", "text/html", b"<html><script>alert(document.cookie)</script></html>")
FILE_LINK = re.compile(r'href="(/files/[^"]+)" download="([^"]+)"')


async def _answer(running: Running, reference: int, token: str, text: str) -> None:
    form = aiohttp.FormData()
    form.add_field("text", text)
    for name, content_type, data in (GUIDE, PAGE):
        form.add_field("files", data, filename=name, content_type=content_type)
    url = f"{running.base}/api/conversations/{reference}/reply"
    async with running.http.post(url, data=form, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 202, await r.text()


async def _opened_without_session(url: str) -> tuple[int, bytes, Any]:
    """What a customer's browser gets for the link: a fresh client, no cookie, no token."""
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.read(), r.headers


async def _check_downloads(base: str, links: dict[str, str]) -> None:
    status, data, headers = await _opened_without_session(base + links["guide.pdf"])
    assert status == 200 and data == GUIDE[2]
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''guide.pdf"
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, data, headers = await _opened_without_session(base + links["page.html"])
    assert status == 200 and data == PAGE[2]
    # Never rendered as a page: bytes to save, in a sandbox even if a browser tried.
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in headers["Content-Security-Policy"]
    # A forged or altered token opens nothing.
    token = links["guide.pdf"].removeprefix("/files/")
    body, mac = token.split(".")
    for forged in (f"{body}.{mac[:-2]}AA", "MQ.AAAA", "1"):
        status, _data, _headers = await _opened_without_session(f"{base}/files/{forged}")
        assert status == 404


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 30)
        if frame["type"] == kind:
            return frame


async def test_chat_links_to_an_agents_files(running: Running) -> None:
    agent = await running.agent_token("cat", *ALL_TEAMS)
    async with running.http.post(running.base + "/chat/session") as r:
        session = (await r.json())["token"]
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={session}") as ws:
        await _next(ws, "history")
        await ws.send_json({"type": "message", "client_id": "c1", "text": "How do I update?"})
        ack = await _next(ws, "message")
        reference = int(ack["text"].split("ticket is #")[1].split(".")[0])
        assert ack["files"] == []
        await _answer(running, reference, agent, "The guide is attached.")
        reply = await _next(ws, "message")
    assert reply["text"] == "The guide is attached."
    assert [(f["name"], f["size"]) for f in reply["files"]] == [
        ("guide.pdf", len(GUIDE[2])),
        ("page.html", len(PAGE[2])),
    ]
    await _check_downloads(running.base, {f["name"]: f["url"] for f in reply["files"]})

    # Coming back, the history links to them too.
    async def history_files() -> list[dict[str, Any]] | None:
        async with running.http.ws_connect(f"{running.base}/chat/ws?token={session}") as ws:
            history = await _next(ws, "history")
        last = history["messages"][-1]
        return last["files"] if last["text"] == "The guide is attached." else None

    assert await until(history_files) == reply["files"]

    # The desk shows the files on the agent's message, with its download buttons.
    staff = await signed_in(running.service, "cat")
    try:
        _status, page = await staff.get(f"/agent/conversations/{reference}")
    finally:
        await staff.http.close()
    assert re.search(r'class="file secondary" data-file="\d+" data-name="guide.pdf"', page)
    assert f"guide.pdf ({len(GUIDE[2])} bytes)" in page
    assert re.search(r'<input type="file" id="reply-files" name="files"[^>]* multiple', page)


async def test_the_ticket_page_links_to_an_agents_files(running: Running) -> None:
    agent = await running.agent_token("tia", *ALL_TEAMS)
    ticket = await running.submit(email="g@example.com", message="Where is the update guide?")
    reference = ticket["reference"]

    async def stored() -> bool:
        status, _ = await running.api("GET", f"/api/conversations/{reference}", agent)
        return status == 200

    await until(stored)
    await _answer(running, reference, agent, "Here is the guide.")

    async def page_with_links() -> dict[str, str] | None:
        async with running.http.get(running.base + ticket["ticket_url"]) as r:
            page = await r.text()
        found = {unescape(name): unescape(href) for href, name in FILE_LINK.findall(page)}
        return found if "Here is the guide." in page and len(found) == 2 else None

    links = await until(page_with_links)
    assert set(links) == {"guide.pdf", "page.html"}
    await _check_downloads(running.base, links)


async def test_the_composer_sends_files_with_the_answer(running: Running, browser: Browser) -> None:
    store = store_of(running.service.settings)
    await running.agent_token("kim", *ALL_TEAMS)
    ticket = await running.submit(email="h@example.com", message="Please send the update guide")
    reference = int(ticket["reference"])
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 1)
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    try:
        await sign_in(page, running.base, "kim")
        await open_conversation(page, reference)
        # Over the limit: the composer says so beside the file, and sends nothing (the
        # server would refuse it as well: tests/channels/test_answer_files.py).
        too_big = FilePayload(
            name="huge.bin", mimeType="application/octet-stream", buffer=b"x" * (10 * MB + 1)
        )
        await page.set_input_files("#reply-files", files=[too_big])
        await page.wait_for_selector("#reply-file-list:has-text('huge.bin (10.0 MB, too large)')")
        await page.fill("#reply-text", "The big one.")
        await page.click("#reply button[type=submit]")
        await page.wait_for_selector(
            "#status:has-text('huge.bin is too large: each file may be at most 10 MB.')"
        )
        assert store.count("SELECT count(*) FROM messages WHERE author = 'agent'") == 0

        name, mime_type, data = GUIDE
        guide = FilePayload(name=name, mimeType=mime_type, buffer=data)
        await page.set_input_files("#reply-files", files=[guide])
        await page.wait_for_selector("#reply-file-list:has-text('guide.pdf (1 KB)')")
        # A note added meanwhile draws the conversation again: the file stays chosen.
        await page.fill("#note-text", "VIP")
        await page.click("#note button[type=submit]")
        await page.wait_for_selector("#messages li.note:has-text('VIP')")
        assert await page.eval_on_selector("#reply-files", "input => input.files.length") == 1
        await page.wait_for_selector("#reply-file-list:has-text('guide.pdf (1 KB)')")
        await page.fill("#reply-text", "The guide is attached.")
        await page.click("#reply button[type=submit]")
        await page.wait_for_selector("#messages li.agent button.file:has-text('guide.pdf')")
        assert await page.input_value("#reply-text") == ""
        assert await page.locator("#reply-file-list").inner_text() == ""
        ((stored_name, size),) = store.rows(
            "SELECT a.filename, a.size FROM attachments a "
            "JOIN messages m ON m.id = a.message_id WHERE m.author = 'agent'"
        )
        assert (stored_name, size) == ("guide.pdf", len(data))
        assert watch.console_errors == []
    finally:
        await page.close()
