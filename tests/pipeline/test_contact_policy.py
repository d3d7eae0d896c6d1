"""The contact policy (issue 19): one customer, counted across all their linked channels —
one acknowledgement for one thing written everywhere, a cap on automatic messages, /stop
and "unsubscribe", no rating request while another conversation is open. Every message
held back is an event on its conversation with the rule, and the ledger shows it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService
from inbox.store.contact_policy import ASKED_TO_STOP, ONCE
from inbox.store.engine import now
from inbox.store.ledger import Delivery, read_ledger
from tests.support.config import without_bot
from tests.support.mailbox import PASSWORD_ENV, mail
from tests.support.mailservers import Dovecot, mailbox_config
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.smtp_server import SmtpServer
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_config
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

EMAIL = "ann@customer.test"
INBOUND = "SELECT count(*) FROM messages WHERE direction = 'in'"
ACKS = "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"
ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")
HELD = "SELECT data FROM events WHERE kind = 'acknowledgement_suppressed' ORDER BY id"


@dataclasses.dataclass
class Ann:
    """One customer on Telegram, the web chat and email, her identities linked."""

    bot_api: BotApi
    dovecot: Dovecot
    user: str
    smtp: SmtpServer
    ws: aiohttp.ClientWebSocketResponse
    store: Store
    settings: Settings
    service: InboxService
    http: aiohttp.ClientSession
    mails: int = 0  # mails the SMTP server got so far
    chat_frames: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    async def on_telegram(self, text: str) -> None:
        await self.bot_api.customer_says(ANN, text)

    async def on_chat(self, text: str) -> None:
        await self.ws.send_json({"type": "message", "client_id": text[:40], "text": text})

    def by_email(self, subject: str, body: str) -> None:
        self.dovecot.save(self.user, mail(EMAIL, subject, body)[0])

    async def chat_answer(self) -> dict[str, Any]:
        """The next message the chat shows from us."""
        while True:
            frame: dict[str, Any] = await asyncio.wait_for(self.ws.receive_json(), 30)
            if frame["type"] == "message" and frame["author"] == "bot":
                return frame

    async def next_code(self) -> str:
        self.mails += 1
        sent = (await self.smtp.wait_for(self.mails, timeout=30))[self.mails - 1]
        body = sent.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        code = re.search(r"\b(\d{6})\b", body)
        assert code is not None and sent.rcpt_tos == [EMAIL]
        return code.group(1)

    async def link(self) -> None:
        """Links her Telegram and her chat with her email address, as she would."""
        await self.on_telegram(f"/link {EMAIL}")
        await self.bot_api.wait_for_texts(ANN, 1)
        await self.on_telegram(f"/verify {await self.next_code()}")
        assert "linked" in (await self.bot_api.wait_for_texts(ANN, 2))[1]
        await self.on_chat(f"/link {EMAIL}")
        await self.chat_answer()
        await self.on_chat(f"/verify {await self.next_code()}")
        assert "linked" in (await self.chat_answer())["text"]
        assert self.store.count("SELECT count(DISTINCT contact_id) FROM identities") == 1

    def agents(self) -> Running:
        """The agent API of the running product."""
        return Running(self.service, self.http, f"http://127.0.0.1:{self.service.port}")

    async def ledger_deliveries(self) -> list[tuple[str, Delivery, str]]:
        """Each of her messages in the answer ledger: channel, delivery, detail."""
        return await deliveries(self.service)


async def deliveries(service: InboxService) -> list[tuple[str, Delivery, str]]:
    """Each customer message in the answer ledger: channel, delivery, detail."""
    assert service.engine is not None
    async with service.engine.connect() as conn:
        entries = await read_ledger(conn, 0.0, now(), 900.0)
    return [(e.channel, e.delivery, e.detail) for e in entries if e.source == "message"]


Meet = Callable[..., AbstractAsyncContextManager[Ann]]


@pytest.fixture
def ann_on_three_channels(
    tmp_path: Path,
    bot_api: BotApi,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> Meet:
    """Starts the product on Telegram, the chat and a mailbox, with ``[contact]`` set as
    given, and links Ann's three identities."""

    @asynccontextmanager
    async def meet(**contact: Any) -> AsyncIterator[Ann]:
        raw = telegram_config(tmp_path, bot_api, monkeypatch)
        user, password = dovecot.new_user()
        monkeypatch.setenv(PASSWORD_ENV, password)
        raw["channels"]["email"] = [
            mailbox_config(dovecot, smtp_server, user, PASSWORD_ENV, reconnect_backoff=0.05)
        ]
        raw["contact"] = contact
        # Counts acknowledgements: the bot, which may answer instead, is silent here.
        settings = without_bot(parse_settings(raw, tmp_path))
        service = await service_factory(settings)
        base = f"http://127.0.0.1:{service.port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/chat/session") as r:
                token = (await r.json())["token"]
            async with http.ws_connect(f"{base}/chat/ws?token={token}") as ws:
                store = store_of(settings)
                ann = Ann(bot_api, dovecot, user, smtp_server, ws, store, settings, service, http)
                await ann.link()
                yield ann

    return meet


def held(store: Store) -> list[str]:
    return [_data(row[0])["reason"] for row in store.rows(HELD)]


def _data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(json.loads(value))


ONE_THING = {
    "chat": "My order 5512 arrived with a cracked screen and I need a replacement",
    "telegram": "Order 5512 came with the screen cracked, I need a replacement please",
    "email": "My order 5512 arrived with a cracked screen and I need a replacement.",
}


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "all-at-once"])
async def test_one_thing_on_chat_email_and_telegram_gets_one_acknowledgement(
    ann_on_three_channels: Meet, together: bool
) -> None:
    async with ann_on_three_channels() as ann:
        await ann.on_chat(ONE_THING["chat"])
        if not together:
            await until(lambda: ann.store.count(INBOUND) == 1)
        await ann.on_telegram(ONE_THING["telegram"])
        if not together:
            await until(lambda: ann.store.count(INBOUND) == 2)
        ann.by_email("Cracked screen on order 5512", ONE_THING["email"])
        await until(lambda: ann.store.count(INBOUND) == 3)
        # Queued with the message, in its transaction: all answers are known by now.
        assert ann.store.count(ACKS) == 1
        assert set(held(ann.store)) <= {ONCE}
        deliveries = await ann.ledger_deliveries()
        assert len(deliveries) == 3
        assert all(d is not Delivery.NONE for _channel, d, _detail in deliveries)


async def test_a_merged_duplicate_is_answered_once_where_the_customer_wrote_last(
    ann_on_three_channels: Meet, bot_api: BotApi, smtp_server: SmtpServer
) -> None:
    async with ann_on_three_channels() as ann:
        ann.by_email("Cracked screen on order 5512", ONE_THING["email"])
        await until(lambda: ann.store.count(INBOUND) == 1)
        await ann.on_telegram(ONE_THING["telegram"])
        await until(lambda: ann.store.count(INBOUND) == 2)
        assert ann.store.count("SELECT count(*) FROM conversations") == 1  # merged
        assert ann.store.count(ACKS) == 1
        ((reference, channel),) = ann.store.rows("SELECT reference, channel FROM conversations")
        mailbox = ann.settings.email[0].name
        assert channel == mailbox  # the ticket is the email's
        telegram_before = len(bot_api.texts_to(ANN))
        mails_before = len(smtp_server.received)

        agents = ann.agents()
        token = await agents.agent_token("dee", *ALL_TEAMS)
        status, view = await agents.api("GET", f"/api/conversations/{reference}", token)
        assert status == 200
        (default, *others) = view["customer"]["reply_options"]
        assert (default["channel"], default["last"], default["own"]) == ("telegram", True, False)
        assert [(o["channel"], o["address"]) for o in others if o["own"]] == [(mailbox, EMAIL)]

        # The agent's answer goes once, to Telegram, where she wrote last.
        path = f"/api/conversations/{reference}/reply"
        status, _ = await agents.api("POST", path, token, {"text": "A new screen is on its way."})
        assert status == 202
        texts = await bot_api.wait_for_texts(ANN, telegram_before + 1)
        assert "A new screen is on its way." in texts[-1]
        replies = "SELECT channel FROM outbox WHERE kind = 'reply'"
        await until(lambda: ann.store.count("SELECT count(*) FROM outbox WHERE state='sent'") >= 2)
        assert ann.store.rows(replies) == [("telegram",)]
        assert len(smtp_server.received) == mails_before
        # Both of her messages are answered by that one answer.
        assert [d for _c, d, _detail in await ann.ledger_deliveries()] == [Delivery.SENT] * 2

        # Unless the agent chooses another of her channels: then there, once.
        body = {"text": "The tracking number is in this mail.", "channel": mailbox}
        status, _ = await agents.api("POST", path, token, {**body, "address": EMAIL})
        assert status == 202
        mail_answer = (await smtp_server.wait_for(mails_before + 1, timeout=30))[-1]
        assert mail_answer.rcpt_tos == [EMAIL]
        assert ann.store.rows(replies + " ORDER BY id") == [("telegram",), (mailbox,)]
        assert len(bot_api.texts_to(ANN)) == telegram_before + 1
        status, body = await agents.api(
            "POST", path, token, {"text": "x", "channel": mailbox, "address": "eve@else.test"}
        )
        assert status == 404 and "no identity there" in body["error"]


async def test_a_look_alike_on_another_channel_gets_no_second_acknowledgement(
    ann_on_three_channels: Meet,
) -> None:
    # Not sure enough to merge (the dedup's "suggest" band): two tickets, an agent is
    # offered the merge, and the customer, answered a moment ago, gets no second answer.
    async with ann_on_three_channels() as ann:
        await ann.on_chat("My card payment failed")
        await until(lambda: ann.store.count(INBOUND) == 1)
        await ann.on_telegram("The checkout rejected my credit card, can you help?")
        await until(lambda: ann.store.count(INBOUND) == 2)
        assert ann.store.count("SELECT count(*) FROM conversations") == 2
        offered = "SELECT count(*) FROM events WHERE kind = 'possible_duplicate'"
        assert ann.store.count(offered) == 1
        assert ann.store.count(ACKS) == 1
        assert held(ann.store) == [ONCE]
        suppressed = [d for _c, d, _detail in await ann.ledger_deliveries()]
        assert suppressed.count(Delivery.SUPPRESSED) == 1


async def test_the_cap_on_automatic_messages_holds_across_channels(
    ann_on_three_channels: Meet, smtp_server: SmtpServer
) -> None:
    async with ann_on_three_channels(automatic_per_window=2) as ann:
        await ann.on_chat("How do I change the password of my account?")
        await until(lambda: ann.store.count(INBOUND) == 1)
        await ann.on_telegram("The invoice you sent me shows the wrong VAT number")
        await until(lambda: ann.store.count(INBOUND) == 2)
        ann.by_email("Opening hours", "Is your shop in Leeds open on Sundays?")
        await until(lambda: ann.store.count(INBOUND) == 3)
        assert ann.store.count("SELECT count(*) FROM conversations") == 3
        assert ann.store.count(ACKS) == 2
        rule = "2 automatic messages to this customer within 60 minutes"
        assert held(ann.store) == [rule]
        # The third channel's message is suppressed in the ledger, with the rule.
        deliveries = await ann.ledger_deliveries()
        assert [(d, detail) for _c, d, detail in deliveries if d is Delivery.SUPPRESSED] == [
            (Delivery.SUPPRESSED, rule)
        ]
        # The mailbox got the two link codes, and no acknowledgement.
        assert len(smtp_server.received) == 2


async def test_stop_ends_automatic_messages_but_not_an_agents_answer(
    ann_on_three_channels: Meet, bot_api: BotApi, smtp_server: SmtpServer
) -> None:
    async with ann_on_three_channels() as ann:
        await ann.on_telegram("/stop")
        stopped = (await bot_api.wait_for_texts(ANN, 3))[2]
        assert "no more automatic messages" in stopped and "team's answers still come" in stopped
        await ann.on_telegram("/stop")  # answered once: the second says it is already off
        assert "already off" in (await bot_api.wait_for_texts(ANN, 4))[3]

        ann.by_email("Refund", "I returned the blue jacket two weeks ago, where is my refund?")
        await ann.on_chat("Can I change the delivery address of order 9031?")
        await until(lambda: ann.store.count(INBOUND) == 2)
        assert ann.store.count(ACKS) == 0
        assert held(ann.store) == [ASKED_TO_STOP, ASKED_TO_STOP]

        # An agent's answer still goes out, by email.
        reference = ann.store.count("SELECT reference FROM conversations WHERE subject = 'Refund'")
        agents = ann.agents()
        token = await agents.agent_token("dee", *ALL_TEAMS)
        status, _ = await agents.api(
            "POST", f"/api/conversations/{reference}/reply", token, {"text": "Refund sent."}
        )
        assert status == 202  # queued
        answer = (await smtp_server.wait_for(3, timeout=30))[2]
        assert answer.rcpt_tos == [EMAIL] and "Refund sent." in answer.message.as_string()
        # The desk shows the agent what was held back, and why.
        base = agents.base
        async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as desk:
            assert (await sign_in_http(desk, base, "dee", TEST_PASSWORD)).status == 303
            async with desk.get(f"{base}/agent/conversations/{reference}") as r:
                page = await r.text()
        assert f"held back: {ASKED_TO_STOP}." in page

        # /resume: automatic messages again.
        await ann.on_telegram("/resume")
        assert "on again" in (await bot_api.wait_for_texts(ANN, 5))[4]
        await ann.on_telegram("My coupon code SPRING10 is rejected at checkout")
        await until(lambda: ann.store.count(INBOUND) == 3)
        assert ann.store.count(ACKS) == 1

        # /stop in the chat stops them on every channel again.
        await ann.on_chat("/stop")
        assert "no more automatic messages" in (await ann.chat_answer())["text"]
        ann.by_email("Gift card", "My gift card 4411 shows a balance of zero")
        await until(lambda: ann.store.count(INBOUND) == 4)
        assert ann.store.count(ACKS) == 1
        assert held(ann.store)[-1] == ASKED_TO_STOP


async def test_unsubscribe_by_meaning_stops_automatic_messages(running: Running) -> None:
    store = store_of(running.service.settings)
    first = await running.submit(
        email="bo@example.com", message="Please stop sending me these automated replies"
    )
    await until(lambda: store.count("SELECT count(*) FROM events WHERE kind = 'automatic_stopped'"))
    assert store.count(ACKS) == 0
    assert held(store) == [ASKED_TO_STOP]
    assert store.count("SELECT count(*) FROM contacts WHERE automatic_stopped_at IS NOT NULL") == 1
    # A new question of theirs is not acknowledged either; it still becomes a ticket.
    second = await running.submit(email="bo@example.com", message="Where is my parcel 7781?")
    await until(lambda: store.count(INBOUND) == 2)
    assert store.count(ACKS) == 0 and first["reference"] != second["reference"]
    # A question about unsubscribing from something is a question: it is acknowledged.
    await running.submit(
        email="cy@example.com", message="How do I unsubscribe from the newsletter?"
    )
    await until(lambda: store.count(INBOUND) == 3)
    assert store.count(ACKS) == 1
    assert store.count("SELECT count(*) FROM contacts WHERE automatic_stopped_at IS NOT NULL") == 1


async def test_an_agent_turns_automatic_messages_on_again_when_the_customer_asks(
    running: Running,
) -> None:
    # An email or form customer has no /resume: they ask an agent, who turns them on.
    store = store_of(running.service.settings)
    first = await running.submit(email="bo@example.com", message="Stop sending automated emails")
    await until(lambda: store.count("SELECT count(*) FROM events WHERE kind = 'automatic_stopped'"))
    reference = first["reference"]
    token = await running.agent_token("cy", *ALL_TEAMS)
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as desk:
        assert (await sign_in_http(desk, running.base, "cy", TEST_PASSWORD)).status == 303
        async with desk.get(f"{running.base}/agent/conversations/{reference}") as r:
            page = await r.text()
    assert "No automatic messages" in page and 'id="automatic-on"' in page

    path = f"/api/conversations/{reference}/automatic"
    status, body = await running.api("POST", path, token, {"on": True})
    assert (status, body) == (200, {"automatic": True})
    status, body = await running.api("POST", path, token, {"on": True})
    assert status == 409 and "already on" in body["error"]
    (row,) = store.rows("SELECT actor, data FROM events WHERE kind = 'automatic_resumed'")
    assert row[0] == "cy" and _data(row[1])["via"] == f"asked an agent, in #{reference}"
    # Their next question is acknowledged again.
    await running.submit(email="bo@example.com", message="Where is my parcel 7781?")
    await until(lambda: store.count(INBOUND) == 2)
    assert store.count(ACKS) == 1
    # And off again, as they ask: nothing automatic, on any of their channels.
    status, _ = await running.api("POST", path, token, {"on": False})
    assert status == 200
    await running.submit(email="bo@example.com", message="Do you ship to Norway?")
    await until(lambda: store.count(INBOUND) == 3)
    assert store.count(ACKS) == 1 and held(store)[-1] == ASKED_TO_STOP


async def test_no_rating_request_while_another_conversation_is_open(running: Running) -> None:
    store = store_of(running.service.settings)
    token = await running.agent_token("cy", *ALL_TEAMS)
    one = await running.submit(email="cy@example.com", message="How do I change my password?")
    two = await running.submit(email="cy@example.com", message="My invoice shows the wrong VAT")
    await until(lambda: store.count(INBOUND) == 2)
    assert store.count("SELECT count(DISTINCT contact_id) FROM conversations") == 1

    status, _ = await running.api("POST", f"/api/conversations/{one['reference']}/resolve", token)
    assert status == 200
    csat = "SELECT count(*) FROM outbox WHERE kind = 'csat'"
    assert store.count(csat) == 0
    (row,) = store.rows("SELECT data FROM events WHERE kind = 'automatic_suppressed'")
    assert _data(row[0]) == {
        "reason": f"another conversation of the customer is open (#{two['reference']})",
        "message": "csat",
    }
    status, _ = await running.api("POST", f"/api/conversations/{two['reference']}/resolve", token)
    assert status == 200
    assert store.count(csat) == 1
    # A third conversation resolved within csat_every_days of the last request: none.
    three = await running.submit(email="cy@example.com", message="Do you ship to Norway?")
    await until(lambda: store.count(INBOUND) == 3)
    status, _ = await running.api("POST", f"/api/conversations/{three['reference']}/resolve", token)
    assert status == 200
    assert store.count(csat) == 1
    reasons = [
        _data(r[0])["reason"]
        for r in store.rows(
            "SELECT data FROM events WHERE kind = 'automatic_suppressed' ORDER BY id"
        )
    ]
    assert reasons[-1] == "the customer was asked for a rating within 14 days"
