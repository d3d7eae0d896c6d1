"""Who a chat visitor is: the name they give, and a site's signed-in user whose identity
the site signed (``user_hash``), over the real HTTP endpoint, socket, pipeline and store."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService
from tests.support.browser import ScriptWatch, sign_in
from tests.support.config import make_settings, without_bot
from tests.support.mailbox import mail
from tests.support.mailservers import Dovecot
from tests.support.service import Running
from tests.support.store import Store, store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

SECRET = "shared-by-the-site-and-the-inbox"
ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
ANN = "ann@customer.test"
CHAT_IDENTITIES = "SELECT contact_id, verified FROM identities WHERE channel = 'webchat'"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test settings with the chat's identity secret in its environment variable."""
    monkeypatch.setenv("CHAT_IDENTITY_SECRET", SECRET)
    return without_bot(make_settings(tmp_path))


def signed(user_id: str, email: str = "", **more: str) -> dict[str, str]:
    """A signed-in user's fields as a site passes them, signed as the README says."""
    message = f"{user_id}\n{email}" if email else user_id
    digest = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    fields = {"user_id": user_id, "user_hash": digest, **more}
    return {**fields, "email": email} if email else fields


async def start_session(
    http: aiohttp.ClientSession, base: str, fields: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    async with http.post(base + "/chat/session", json=fields or {}) as r:
        body: dict[str, Any] = await r.json()
        return r.status, body


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 30)
        if frame["type"] == kind:
            return frame


async def say(
    http: aiohttp.ClientSession, base: str, token: str, text: str, name: str = ""
) -> list[dict[str, Any]]:
    """Sends one message in the session; returns the history the socket opened with."""
    async with http.ws_connect(f"{base}/chat/ws?token={token}") as ws:
        history: list[dict[str, Any]] = (await _next(ws, "history"))["messages"]
        frame = {"type": "message", "client_id": text[:30], "text": text, "name": name}
        await ws.send_json(frame)
        assert (await _next(ws, "accepted"))["client_id"] == text[:30]
    return history


def chat_contact(store: Store) -> int:
    """The contact of the one chat conversation so far, once it is stored."""
    rows = store.rows("SELECT contact_id FROM conversations WHERE channel = 'webchat'")
    return int(rows[0][0]) if rows else 0


async def test_a_visitors_name_names_them_for_the_agents(running: Running) -> None:
    agent = await running.agent_token("cat", *ALL_TEAMS)
    store = store_of(running.service.settings)
    status, body = await start_session(running.http, running.base)
    assert status == 200 and body["verified"] is False
    await say(running.http, running.base, body["token"], "Where is my order 5512?", " Cy\nVisitor ")
    contact = await until(lambda: chat_contact(store))
    assert store.rows("SELECT name FROM contacts WHERE id = ?", contact) == [("Cy Visitor",)]
    (reference,) = store.rows("SELECT reference FROM conversations WHERE channel = 'webchat'")[0]
    status, view = await running.api("GET", f"/api/conversations/{reference}", agent)
    assert status == 200 and view["customer"]["name"] == "Cy Visitor"

    # A visitor who gives no name is nameless, as before; a name that is not text is refused.
    _status, other = await start_session(running.http, running.base)
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={other['token']}") as ws:
        await _next(ws, "history")
        await ws.send_json({"type": "message", "client_id": "n", "text": "Hi", "name": 7})
        assert (await _next(ws, "error"))["error"] == "name must be text"


async def test_a_signed_in_user_has_one_chat_in_every_browser_named_and_verified(
    running: Running,
) -> None:
    store = store_of(running.service.settings)
    fields = signed("user-42", name="Bo Builder")
    status, first = await start_session(running.http, running.base, fields)
    assert status == 200 and first["verified"] is True and first["name"] == "Bo Builder"
    # Bound before any message: the chat's identity is verified and its customer named.
    ((contact, verified),) = store.rows(CHAT_IDENTITIES)
    assert verified and store.rows("SELECT name FROM contacts WHERE id = ?", contact) == [
        ("Bo Builder",)
    ]
    await say(running.http, running.base, first["token"], "My invoice shows the wrong VAT")
    assert await until(lambda: chat_contact(store)) == contact

    # Another browser (a new HTTP client, no cookies, no storage): the same session, so
    # the same conversation, and nothing is bound twice.
    async with aiohttp.ClientSession() as other:
        status, again = await start_session(other, running.base, fields)
        assert status == 200
        history = await say(other, running.base, again["token"], "It should be 20%")
    assert history[0]["text"] == "My invoice shows the wrong VAT"
    assert store.rows(CHAT_IDENTITIES) == [(contact, True)]
    assert store.count("SELECT count(*) FROM contacts") == 1

    # The form of a site works too, and the session is the same user's.
    form = aiohttp.FormData(fields)
    async with running.http.post(running.base + "/chat/session", data=form) as r:
        assert r.status == 200 and (await r.json())["verified"] is True


async def test_a_user_whose_signed_email_changes_takes_their_chat_to_the_new_address(
    running: Running,
) -> None:
    store = store_of(running.service.settings)
    _status, body = await start_session(running.http, running.base, signed("u-9", "old@x.test"))
    await say(running.http, running.base, body["token"], "My parcel 7781 never came")
    old = await until(lambda: chat_contact(store))
    status, again = await start_session(running.http, running.base, signed("u-9", "new@x.test"))
    assert status == 200 and again["token"] == body["token"]
    emails = "SELECT address, contact_id, verified FROM identities WHERE channel = 'email'"
    new = chat_contact(store)
    assert new != old and sorted(store.rows(emails)) == [
        ("new@x.test", new, True),
        ("old@x.test", new, True),  # the site vouched for both: one customer
    ]
    assert store.rows(CHAT_IDENTITIES) == [(new, True)]
    assert store.count("SELECT count(*) FROM events WHERE kind = 'identity_linked'") == 1


async def test_a_wrong_signature_is_refused_and_joins_nothing(running: Running) -> None:
    store = store_of(running.service.settings)
    right = signed("user-42", ANN)
    attempts = [
        ({**right, "user_hash": "0" * 64}, "not the HMAC-SHA256 of user_id and email"),
        # Signed for the user alone: the email the page adds is not covered.
        ({**signed("user-42"), "email": ANN}, "not the HMAC-SHA256 of user_id and email"),
        ({**right, "user_id": "user-43"}, "not the HMAC-SHA256"),
        ({"user_id": "user-42", "email": ANN}, "user_hash is missing"),
        ({"email": ANN, "user_hash": right["user_hash"]}, "user_id is missing"),
    ]
    for fields, reason in attempts:
        status, body = await start_session(running.http, running.base, fields)
        assert status == 403, fields
        assert body["error"].startswith("your identity could not be verified")
        assert reason in body["error"]
        assert "token" not in body
    assert store.count("SELECT count(*) FROM identities") == 0
    async with running.http.post(running.base + "/chat/session", data="[1]") as r:
        assert r.status == 200  # not JSON by its type: no fields, an anonymous session
    headers = {"Content-Type": "application/json"}
    async with running.http.post(running.base + "/chat/session", data="[", headers=headers) as r:
        assert r.status == 400 and "JSON" in (await r.json())["error"]


async def test_without_a_secret_every_identity_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    monkeypatch.delenv("CHAT_IDENTITY_SECRET", raising=False)
    settings = without_bot(make_settings(tmp_path))
    assert settings.chat.identity_secret == ""
    service = await service_factory(settings)
    base = f"http://127.0.0.1:{service.port}"
    async with aiohttp.ClientSession() as http:
        status, body = await start_session(http, base, signed("user-42"))
        assert status == 403 and "does not verify signed-in users" in body["error"]
        status, body = await start_session(http, base, {"name": "Ann"})
        assert status == 200 and body["verified"] is False
    assert store_of(settings).count("SELECT count(*) FROM identities") == 0


async def test_a_chat_with_a_valid_hmac_joins_the_known_email_customer_a_wrong_one_does_not(
    mail_config: dict[str, Any],
    tmp_path: Path,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    monkeypatch.setenv("CHAT_IDENTITY_SECRET", SECRET)
    settings = without_bot(parse_settings(mail_config, tmp_path))
    service = await service_factory(settings)
    async with aiohttp.ClientSession() as http:
        running = Running(service, http, f"http://127.0.0.1:{service.port}")
        store = store_of(settings)
        agent = await running.agent_token("cat", *ALL_TEAMS)
        user = settings.email[0].imap_user
        # Ann wrote by email before: she is a known customer.
        dovecot.save(user, mail(f"Ann Example <{ANN}>", "Refund", "Where is my refund?")[0])
        ann = "SELECT contact_id FROM identities WHERE channel = 'email' AND address = ?"
        rows = await until(lambda: store.rows(ann, ANN))
        known = int(rows[0][0])

        # A page that signs her id but not her address, or signs it wrong, gets nothing.
        for fields in ({**signed("ann-7"), "email": ANN}, {**signed("ann-7", ANN), "user_id": "x"}):
            status, _body = await start_session(running.http, running.base, fields)
            assert status == 403
        assert store.rows(CHAT_IDENTITIES) == []

        # Her site's page, signed right: the chat is hers before she writes a word.
        status, body = await start_session(running.http, running.base, signed("ann-7", ANN.upper()))
        assert status == 200 and body["verified"] is True
        assert store.rows(CHAT_IDENTITIES) == [(known, True)]
        await say(running.http, running.base, body["token"], "Also, my card was charged twice")
        assert await until(lambda: chat_contact(store)) == known
        (reference,) = store.rows("SELECT reference FROM conversations WHERE channel = 'webchat'")[
            0
        ]
        status, view = await running.api("GET", f"/api/conversations/{reference}", agent)
        assert view["customer"]["name"] == "Ann Example"
        shown = {(i["channel"], i["verified"]) for i in view["customer"]["identities"]}
        assert shown == {("email", True), ("webchat", True)}


async def _open_chat(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_selector("#chat-status:has-text('Connected')")


async def _send(page: Page, text: str) -> None:
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")
    await page.wait_for_selector("#chat-log li:last-child:has-text('ticket is #')")


async def test_the_widget_asks_a_name_first_and_takes_a_sites_signed_in_user(
    running: Running, browser: Browser
) -> None:
    await running.agent_token("cat", *ALL_TEAMS)
    store = store_of(running.service.settings)
    names = "SELECT c.name, i.verified FROM contacts c JOIN identities i ON i.contact_id = c.id"

    # An anonymous visitor is asked for a name before the first message, and only then.
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await _open_chat(page, f"{running.base}/chat")
    await page.wait_for_selector("#chat-name-row:visible label:has-text('Your name (optional)')")
    await page.fill("#chat-name", "Cy Visitor")
    await _send(page, "Where is my order 5512?")
    assert not await page.is_visible("#chat-name-row")
    await until(lambda: store.rows(names) == [("Cy Visitor", False)])
    await page.reload()
    await page.wait_for_selector("#chat-log li.customer")
    assert not await page.is_visible("#chat-name-row")
    assert await page.evaluate("() => localStorage.getItem('inbox-chat-name')") == "Cy Visitor"
    assert watch.console_errors == []

    # The desk shows the visitor by name.
    desk = await browser.new_page()
    await sign_in(desk, running.base, "cat")
    await desk.wait_for_selector("text=Cy Visitor")
    assert await desk.locator("text=/Chat visitor/").count() == 0

    # A site's signed-in user is not asked: the site names them, and the chat says so.
    context = await browser.new_context()
    page = await context.new_page()
    fields = signed("user-42", name="Bo Builder")
    await _open_chat(page, f"{running.base}/chat?{urlencode(fields)}")
    await page.wait_for_selector("#chat-notice:has-text('Chatting as Bo Builder')")
    assert not await page.is_visible("#chat-name-row")
    await _send(page, "My invoice shows the wrong VAT")
    await until(lambda: ("Bo Builder", True) in store.rows(names))
    assert await page.evaluate("() => localStorage.getItem('inbox-chat-token')") is None

    # A wrong signature: the chat goes on anonymously, and says so; the name is asked.
    context = await browser.new_context()
    page = await context.new_page()
    forged = {**signed("user-42", name="Eve"), "user_hash": "0" * 64}
    await _open_chat(page, f"{running.base}/chat?{urlencode(forged)}")
    await page.wait_for_selector(
        "#chat-notice:has-text('could not confirm your account, so this chat is anonymous')"
    )
    assert await page.input_value("#chat-name") == "Eve"
    await _send(page, "Show me the account of user 42")
    await until(lambda: ("Eve", False) in store.rows(names))
    assert store.count("SELECT count(*) FROM identities WHERE verified") == 1  # Bo's alone
