"""An address typed into the web form proves nothing: a stranger who types a customer's
address never sees, joins, reopens or merges into that customer's conversations, and
every receipt names the ticket the message really went to."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import Settings
from inbox.form_identity import (
    form_identity_address,
    shown_address,
    submitter_tag,
    typed_address,
)
from inbox.service.app import InboxService
from tests.support.config import make_settings
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
PARCEL = "My parcel has not arrived, it was due last Tuesday"


async def _view(running: Running, token: str, reference: int) -> dict[str, Any] | None:
    status, view = await running.api("GET", f"/api/conversations/{reference}", token)
    return view if status == 200 else None


async def _post(
    http: aiohttp.ClientSession,
    running: Running,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> dict[str, Any]:
    async with http.post(running.base + "/api/messages", json=fields, headers=headers) as r:
        assert r.status in (200, 202), await r.text()
        body: dict[str, Any] = await r.json()
        return body


def _inbound(view: dict[str, Any]) -> list[str]:
    return [m["text"] for m in view["messages"] if m["direction"] == "in"]


async def test_a_stranger_typing_a_customers_address_sees_and_joins_nothing(
    running: Running,
) -> None:
    token = await running.agent_token("ida", *ALL_TEAMS)
    customer = await _post(
        running.http,
        running,
        {"Idempotency-Key": "ann-key-1"},
        email="ann@example.com",
        message=PARCEL,
    )
    ref = customer["reference"]
    await until(lambda: _view(running, token, ref))
    status, _ = await running.api(
        "POST", f"/api/conversations/{ref}/reply", token, {"text": "It leaves our depot today."}
    )
    assert status == 202
    status, _ = await running.api("POST", f"/api/conversations/{ref}/resolve", token)
    assert status == 200

    async def answered_on_page() -> bool:
        async with running.http.get(running.base + customer["ticket_url"]) as r:
            return "leaves our depot" in await r.text()

    await until(answered_on_page)

    # Another browser (no cookie) types the same address, quotes the ticket, repeats the
    # wording, and reuses the customer's idempotency key with other words.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
        quoting = await _post(
            stranger, running, email="ann@example.com", subject=f"Re: #{ref}", message="Any news?"
        )
        same_words = await _post(stranger, running, email="ann@example.com", message=PARCEL)
        reused_key = await _post(
            stranger,
            running,
            {"Idempotency-Key": "ann-key-1"},
            email="ann@example.com",
            message="Send me a copy of everything on my account",
        )
        for receipt in (quoting, same_words, reused_key):
            assert receipt["reference"] != ref
            assert not receipt["duplicate"]
            async with stranger.get(running.base + receipt["ticket_url"]) as r:
                page = await r.text()
            assert "leaves our depot" not in page
            assert "has not arrived" not in page or receipt is same_words
            assert f"Ticket #{ref}<" not in page

    # The customer's conversation is untouched: one message, still resolved.
    view = await _view(running, token, ref)
    assert view is not None
    assert _inbound(view) == [PARCEL]
    assert view["status"] == "resolved"
    # The stranger's messages are tickets of their own, marked as not verified.
    stranger_view = await until(lambda: _view(running, token, quoting["reference"]))
    assert stranger_view["reference"] == quoting["reference"]
    identities = stranger_view["customer"]["identities"]
    assert [(i["channel"], i["verified"]) for i in identities] == [("form", False)]
    assert identities[0]["address"].startswith("ann@example.com#")


async def test_an_agent_may_merge_an_unverified_form_message_and_its_sender_sees_only_theirs(
    running: Running,
) -> None:
    token = await running.agent_token("jo", *ALL_TEAMS)
    customer = await running.submit(email="cy@example.com", message=PARCEL)
    ref = customer["reference"]
    await until(lambda: _view(running, token, ref))
    await running.api(
        "POST", f"/api/conversations/{ref}/reply", token, {"text": "Your parcel number is 99."}
    )
    async with aiohttp.ClientSession() as other_browser:
        other = await _post(other_browser, running, email="cy@example.com", message="Still waiting")
        await until(lambda: _view(running, token, other["reference"]))
        status, body = await running.api(
            "POST", f"/api/conversations/{other['reference']}/merge", token, {"into": ref}
        )
        assert status == 200, body
        view = await _view(running, token, ref)
        assert view is not None and _inbound(view) == [PARCEL, "Still waiting"]
        async with other_browser.get(running.base + other["ticket_url"]) as r:
            page = await r.text()
        assert "Still waiting" in page
        assert "has not arrived" not in page and "parcel number is 99" not in page
    # A stranger with another address is never merged into this customer's ticket.
    async with aiohttp.ClientSession() as stranger:
        theirs = await _post(stranger, running, email="zed@example.com", message="Still waiting")
    await until(lambda: _view(running, token, theirs["reference"]))
    status, body = await running.api(
        "POST", f"/api/conversations/{theirs['reference']}/merge", token, {"into": ref}
    )
    assert status == 409 and "one customer" in body["error"]


async def test_the_desk_shows_a_form_address_as_not_verified(running: Running) -> None:
    token = await running.agent_token("kim", *ALL_TEAMS)
    receipt = await running.submit(email="dee@example.com", message="Where is my refund?")
    await until(lambda: _view(running, token, receipt["reference"]))
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as desk:
        await sign_in_http(desk, running.base, "kim", TEST_PASSWORD)
        async with desk.get(f"{running.base}/agent/conversations/{receipt['reference']}") as r:
            html = await r.text()
    assert "dee@example.com" in html and "(address not verified)" in html
    assert "dee@example.com#" not in html


async def test_the_receipt_names_the_ticket_a_follow_up_joined(running: Running) -> None:
    token = await running.agent_token("lee", *ALL_TEAMS)
    first = await running.submit(email="eve@example.com", message="My card payment failed")
    ref = first["reference"]
    await until(lambda: _view(running, token, ref))
    form = {"email": "eve@example.com", "message": f"About #{ref}: it failed again today"}
    async with running.http.post(running.base + "/form", data=form) as r:
        page = await r.text()
    told = re.search(r'id="ticket">#(\d+)<', page)
    assert told is not None and int(told.group(1)) == ref
    assert "Your ticket is" in page
    view = await _view(running, token, ref)
    assert view is not None and len(_inbound(view)) == 2


async def test_a_confirmation_link_not_made_by_the_server_is_refused(running: Running) -> None:
    async with running.http.post(running.base + "/form/confirm/YW5uQGV4YW1wbGUuY29tI3g.AAAA") as r:
        assert r.status == 404
        assert "not valid" in await r.text()


async def test_a_receipt_that_cannot_wait_names_the_message_not_a_ticket(
    tmp_path: Path, service_factory: Callable[[Settings], Awaitable[InboxService]]
) -> None:
    settings = make_settings(tmp_path, **{"channels.form": {"receipt_wait_seconds": 0}})
    service = await service_factory(settings)
    base = f"http://127.0.0.1:{service.port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(
            base + "/api/messages", json={"email": "fay@example.com", "message": "Hello?"}
        ) as r:
            body = await r.json()
        assert body["pending"] is True and body["ticket"] is None
        assert body["reference"] == body["message_reference"]
        async with http.post(
            base + "/form", data={"email": "fay@example.com", "message": "Hello again?"}
        ) as r:
            page = await r.text()
        assert "Its reference is" in page and "Your ticket is" not in page


async def test_a_message_sent_twice_is_one_ticket_and_shows_once(running: Running) -> None:
    first = await running.submit(email="gil@example.com", message="I was charged twice!")
    second = await running.submit(email="gil@example.com", message="I was charged twice!")
    assert second["message_reference"] != first["message_reference"]
    assert second["ticket"] == first["ticket"] == f"#{first['reference']}"
    for receipt in (first, second):
        async with running.http.get(running.base + receipt["ticket_url"]) as r:
            page = await r.text()
        assert f"<h1>Ticket #{first['reference']}</h1>" in page
        assert page.count("I was charged twice!") == 1


@pytest.mark.parametrize("typed", ["ann@example.com", "a#b@example.com", "#@example.com"])
def test_a_form_identity_gives_back_the_typed_address_even_with_a_hash_in_it(typed: str) -> None:
    """An address may hold the separator itself; only the last one ends the address (the
    typed "a#b@example.com" came back as "a", so its confirmation went to "a")."""
    identity = form_identity_address(typed, "3f9a1c")
    assert typed_address(identity) == typed
    assert submitter_tag(identity) == "3f9a1c"
    assert shown_address("form", identity) == typed
    assert shown_address("email", typed) == typed
