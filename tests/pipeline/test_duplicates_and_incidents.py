"""Near-duplicates across channels, merge suggestions and incidents, through the product."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.config.settings import Settings
from inbox.service.app import InboxService
from tests.support.browser import open_conversation, sign_in
from tests.support.config import make_settings, without_bot
from tests.support.mailbox import Mailbox, mail
from tests.support.mailservers import Dovecot
from tests.support.service import Running
from tests.support.smtp_server import SmtpServer
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")


async def _view(running: Running, token: str, reference: int) -> dict[str, Any] | None:
    status, view = await running.api("GET", f"/api/conversations/{reference}", token)
    return view if status == 200 else None


async def _events(running: Running, token: str, reference: int, kind: str) -> list[Any]:
    view = await _view(running, token, reference)
    return [e for e in view["events"] if e["kind"] == kind] if view else []


async def test_the_same_problem_in_other_words_is_one_ticket_with_one_answer(
    running: Running,
) -> None:
    token = await running.agent_token("d", *ALL_TEAMS)
    first = await running.submit(
        email="ann@example.com", message="My parcel still has not arrived after two weeks"
    )
    await until(lambda: _view(running, token, first["reference"]))
    again = await running.submit(
        email="ann@example.com",
        message="It has been two weeks and my package has still not been delivered",
    )
    other = await running.submit(email="ann@example.com", message="How do I change my password?")
    stranger = await running.submit(
        email="bo@example.com", message="My parcel still has not arrived after two weeks"
    )

    merged = await until(lambda: _events(running, token, first["reference"], "duplicate_merged"))
    evidence = merged[0]["data"]["similar"]
    assert evidence["verdict"] == "merge"
    assert evidence["similarity"] >= evidence["auto_merge_threshold"] == 0.7
    assert evidence["reference"] == first["reference"]
    view = await _view(running, token, first["reference"])
    assert view is not None
    assert [m["text"] for m in view["messages"] if m["direction"] == "in"] == [
        "My parcel still has not arrived after two weeks",
        "It has been two weeks and my package has still not been delivered",
    ]
    assert [m["author"] for m in view["messages"]].count("bot") == 1
    # The repeat's own receipt leads to the same ticket.
    alias = await until(lambda: _view(running, token, again["reference"]))
    assert alias["reference"] == first["reference"]
    # Another problem of the same customer, and the same words from another customer,
    # are tickets of their own.
    for separate in (other["reference"], stranger["reference"]):
        found = await until(functools.partial(_view, running, token, separate))
        assert found["reference"] == separate != first["reference"]


async def test_a_possible_duplicate_is_offered_and_merged_with_one_action(
    running: Running,
) -> None:
    token = await running.agent_token("m", *ALL_TEAMS)
    first = await running.submit(email="cy@example.com", message="My card payment failed")
    await until(lambda: _view(running, token, first["reference"]))
    second = await running.submit(
        email="cy@example.com", message="The checkout rejected my credit card, can you help?"
    )
    offered = await until(
        lambda: _events(running, token, second["reference"], "possible_duplicate")
    )
    evidence = offered[0]["data"]
    assert evidence["reference"] == first["reference"]
    assert (
        evidence["suggest_threshold"] <= evidence["similarity"] < evidence["auto_merge_threshold"]
    )
    # Until an agent confirms, they are two tickets, each acknowledged.
    _, listed = await running.api("GET", "/api/conversations", token)
    assert {c["reference"] for c in listed["conversations"]} == {
        first["reference"],
        second["reference"],
    }

    status, body = await running.api(
        "POST",
        f"/api/conversations/{second['reference']}/merge",
        token,
        {"into": first["reference"]},
    )
    assert (status, body) == (200, {"merged_into": first["reference"]})
    view = await _view(running, token, first["reference"])
    assert view is not None
    assert len([m for m in view["messages"] if m["direction"] == "in"]) == 2
    assert "merged" in [e["kind"] for e in view["events"]]
    _, listed = await running.api("GET", "/api/conversations?status=new", token)
    assert [c["reference"] for c in listed["conversations"]] == [first["reference"]]
    # Another customer's conversation is never merged into this one.
    stranger = await running.submit(email="eve@example.com", message="My card payment failed")
    await until(lambda: _view(running, token, stranger["reference"]))
    status, body = await running.api(
        "POST",
        f"/api/conversations/{stranger['reference']}/merge",
        token,
        {"into": first["reference"]},
    )
    assert status == 409 and "one customer" in body["error"]


async def test_a_confirmed_form_address_and_a_linked_chat_are_one_ticket_one_ack(
    mailbox: Mailbox, smtp_server: SmtpServer
) -> None:
    # Counts acknowledgements: the bot, which may answer instead, is silent here.
    mailbox.settings = without_bot(mailbox.settings)
    service = await mailbox.start()
    base = f"http://127.0.0.1:{service.port}"
    store = store_of(mailbox.settings)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            base + "/api/messages",
            json={"email": "ann@customer.test", "message": "I was charged twice this month"},
        ) as r:
            assert r.status == 202
            reference = (await r.json())["reference"]
        await until(lambda: store.count("SELECT count(*) FROM conversations") == 1)
        # The typed address proves nothing until the link mailed to it is confirmed.
        (confirm_mail,) = await smtp_server.wait_for(1, timeout=30)
        text = confirm_mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https?://\S+(/form/confirm/\S+)", text)
        assert link is not None and confirm_mail.rcpt_tos == ["ann@customer.test"]
        async with http.get(base + link.group(1)) as r:  # a mail scanner opening it
            assert r.status == 200 and "ann@customer.test" in await r.text()
        verified = "SELECT count(*) FROM identities WHERE verified"
        assert store.count(verified) == 0
        async with http.post(base + link.group(1)) as r:
            assert r.status == 200 and 'id="confirmed"' in await r.text()
        assert store.count(verified) == 2  # the form sender and the address, one customer

        async with http.post(base + "/chat/session") as r:
            token = (await r.json())["token"]
        async with http.ws_connect(f"{base}/chat/ws?token={token}") as ws:

            async def say(client_id: str, text: str) -> dict[str, Any]:
                await ws.send_json({"type": "message", "client_id": client_id, "text": text})
                while True:
                    frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 30)
                    if frame["type"] == "message" and frame["author"] == "bot":
                        return frame

            assert "a***@customer.test" in (await say("1", "/link ann@customer.test"))["text"]
            code_mail = (await smtp_server.wait_for(2, timeout=30))[1]
            body = code_mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            code = re.search(r"\b(\d{6})\b", body)
            assert code is not None
            assert "linked" in (await say("2", f"/verify {code.group(1)}"))["text"]

            await ws.send_json(
                {
                    "type": "message",
                    "client_id": "3",
                    "text": "I have been charged twice this month, please sort it out",
                }
            )
            await until(
                lambda: store.count("SELECT count(*) FROM messages WHERE direction = 'in'") == 2
            )
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT reference FROM conversations") == reference
    acks = "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"
    assert store.count(acks) == 1
    merged = "SELECT count(*) FROM events WHERE kind = 'duplicate_merged' AND actor = 'deduper'"
    assert store.count(merged) == 1


OUTAGE = [
    "Your website is down, nothing loads at all",
    "I can't reach your site, it just times out",
    "Is your service down? The page will not load for me",
    "Your website has been down for the last few minutes",
    "Nothing loads on your site right now, is there an outage?",
    "The site is not loading, I keep getting a timeout error",
]


async def test_six_customers_reporting_one_outage_raise_one_incident(running: Running) -> None:
    token = await running.agent_token("sup", *ALL_TEAMS)
    unrelated = await running.submit(email="x@example.com", message="How do I change my address?")
    references = []
    for i, text in enumerate(OUTAGE):
        references.append(
            (await running.submit(email=f"c{i}@example.com", message=text))["reference"]
        )
        if i == 2:
            await running.submit(email="y@example.com", message="I was charged twice")

    async def six_members() -> list[Any] | None:
        _, body = await running.api("GET", "/api/incidents", token)
        found = body["incidents"]
        return found if found and len(found[0]["members"]) == 6 else None

    (incident,) = await until(six_members)
    assert incident["customers"] == 6
    assert sorted(m["reference"] for m in incident["members"]) == sorted(references)
    linked = await _events(running, token, references[-1], "incident_linked")
    assert linked[0]["data"]["incident_id"] == incident["id"]
    assert await _events(running, token, unrelated["reference"], "incident_linked") == []
    # Members of another team are not shown to an agent outside it.
    billing = await running.agent_token("bill", "billing")
    _, body = await running.api("GET", "/api/incidents", billing)
    assert body["incidents"] == []


async def test_a_burst_in_progress_survives_a_restart(
    tmp_path: Path, service_factory: Callable[[Settings], Awaitable[InboxService]]
) -> None:
    settings = make_settings(tmp_path, incidents={"customers": 3})
    store = store_of(settings)
    first = await service_factory(settings)
    async with aiohttp.ClientSession() as http:
        for i, text in enumerate(OUTAGE[:2]):
            body = {"email": f"r{i}@example.com", "message": text}
            async with http.post(f"http://127.0.0.1:{first.port}/api/messages", json=body) as r:
                assert r.status == 202
        vectors = "SELECT count(*) FROM message_vectors"
        await until(lambda: store.count(vectors) == 2)
        await first.stop()
        assert store.count("SELECT count(*) FROM incidents") == 0

        second = await service_factory(settings)
        body = {"email": "r2@example.com", "message": OUTAGE[2]}
        async with http.post(f"http://127.0.0.1:{second.port}/api/messages", json=body) as r:
            assert r.status == 202
        await until(lambda: store.count("SELECT count(*) FROM incident_members") == 3)
    assert store.count("SELECT count(*) FROM incidents") == 1


async def test_the_desk_offers_a_possible_duplicate_and_merges_it_with_one_click(
    running: Running, browser: Browser
) -> None:
    token = await running.agent_token("desk", *ALL_TEAMS)
    first = await running.submit(email="cy@example.com", message="My card payment failed")
    await until(lambda: _view(running, token, first["reference"]))
    second = await running.submit(
        email="cy@example.com", message="The checkout rejected my credit card, can you help?"
    )
    await until(lambda: _events(running, token, second["reference"], "possible_duplicate"))

    page = await browser.new_page()
    await sign_in(page, running.base, "desk")
    await open_conversation(page, second["reference"])
    notice = await page.wait_for_selector("#duplicate:not([hidden])")
    assert notice is not None
    assert f"Possibly the same issue as #{first['reference']}" in await notice.inner_text()
    await page.click("#merge")
    await page.wait_for_selector(f"#conversation-title:has-text('#{first['reference']} ')")
    await page.wait_for_selector("#duplicate", state="hidden")
    view = await _view(running, token, first["reference"])
    assert view is not None
    assert len([m for m in view["messages"] if m["direction"] == "in"]) == 2
    # One more click tells the router the team was right.
    await page.click("#confirm")
    await page.wait_for_selector(f"#status:has-text('this is for {view['team']}')")
    assert "routing_confirmed" in [
        e["kind"] for e in (await _view(running, token, first["reference"]) or {})["events"]
    ]
    await page.close()


async def test_a_new_email_that_continues_an_open_conversation_is_stitched_to_it(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    # Counts acknowledgements: the bot, which may answer instead, is silent here.
    mailbox.settings = without_bot(mailbox.settings)
    store = mailbox.store
    # No duplicate window: what follows is told apart from a repeat only by stitching.
    mailbox.settings = dataclasses.replace(mailbox.settings, dedup_window_minutes=0.0)
    await mailbox.start()
    first, _ = mail(
        "dan@customer.test", "Broken screen", "My order 5512 arrived with a broken screen."
    )
    dovecot.save(mailbox.user, first)
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    # A fresh mail, not a reply: no threading headers, no ticket number.
    later, _ = mail(
        "dan@customer.test",
        "Replacement?",
        "Following up on the cracked screen of order 5512: can you send me a replacement?",
    )
    other, _ = mail("dan@customer.test", "Password", "How do I change my password?")
    dovecot.save(mailbox.user, later)
    dovecot.save(mailbox.user, other)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    assert store.count("SELECT count(*) FROM conversations") == 2
    ((data,),) = store.rows("SELECT data FROM events WHERE kind = 'stitched'")
    evidence = json.loads(data)
    assert evidence["verdict"] == "stitched"
    assert evidence["similarity"] >= evidence["stitch_threshold"] == 0.6
    assert str(evidence["reference"]) in str(ack.message["Subject"])
    # The continuation is quietly part of the thread; the other question got its own ack.
    await smtp_server.wait_for(2, timeout=30)
    acks = "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"
    assert store.count(acks) == 2


async def test_a_reply_that_changes_topic_becomes_a_linked_ticket_of_its_own(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    store = mailbox.store
    await mailbox.start()
    first, _ = mail(
        "eva@customer.test", "Broken screen", "My order 5512 arrived with a broken screen."
    )
    dovecot.save(mailbox.user, first)
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    answer_to = str(ack.message["Message-ID"])
    on_topic, _ = mail(
        "eva@customer.test",
        f"Re: {ack.message['Subject']}",
        "Thanks. The glass of the screen is cracked across the middle, I can send a photo.",
        in_reply_to=answer_to,
    )
    off_topic, _ = mail(
        "eva@customer.test",
        f"Re: {ack.message['Subject']}",
        "Another thing entirely: please change the email address of my profile to "
        "eva@new.example and update my phone number as well.",
        in_reply_to=answer_to,
    )
    dovecot.save(mailbox.user, on_topic)
    dovecot.save(mailbox.user, off_topic)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    assert store.count("SELECT count(*) FROM conversations") == 2
    ((origin, first_id), (new_ref, new_id)) = store.rows(
        "SELECT reference, id FROM conversations ORDER BY id"
    )
    assert store.count(f"SELECT count(*) FROM messages WHERE conversation_id = {first_id}") >= 2
    ((split_to,),) = store.rows("SELECT data FROM events WHERE kind = 'split_to'")
    ((split_from,),) = store.rows("SELECT data FROM events WHERE kind = 'split_from'")
    assert json.loads(split_to)["reference"] == new_ref
    evidence = json.loads(split_from)
    assert evidence["reference"] == origin
    assert evidence["similarity"] < evidence["split_below"] == 0.3
    # The new topic is a new ticket, and the customer is told its number.
    (_, second_ack) = await smtp_server.wait_for(2, timeout=30)
    assert f"#{new_ref}" in str(second_ack.message["Subject"])
    assert store.count(f"SELECT count(*) FROM messages WHERE conversation_id = {new_id}") == 2
