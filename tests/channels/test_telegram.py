"""The Telegram channel end to end, against the Bot API stand-in on loopback."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from connectors.telegram.split import MAX_MESSAGE, split_text, units
from inbox import tomlwrite
from inbox.cli.bench import start_service
from inbox.command_words import parse_command
from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.config import without_bot
from tests.support.mailbox import PASSWORD_ENV, mail
from tests.support.mailservers import Dovecot, mailbox_config
from tests.support.smtp_server import SmtpServer
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_config, telegram_settings
from tests.support.waiting import until


async def agent_reply(service: InboxService, reference: int, text: str) -> None:
    """Answers as a new agent of every team, through the agent API."""
    assert service.engine is not None
    teams = [t.name for t in service.settings.all_teams]
    _agent, token = await Accounts(service.engine).add_agent(f"agent-{uuid.uuid4().hex}", teams)
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}/api/conversations/{reference}/reply"
        async with http.post(
            url, json={"text": text}, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 202, await r.text()


@dataclass
class Desk:
    """The product running with the Telegram channel on, and the stand-in it talks to."""

    service: InboxService
    store: Store
    api: BotApi

    async def ticket(self, text: str, chat: int = ANN) -> int:
        """A customer's first message; returns the reference the acknowledgement gave."""
        await self.api.customer_says(chat, text)
        return reference_in((await self.api.wait_for_texts(chat, 1))[0])

    async def reply(self, reference: int, text: str) -> None:
        await agent_reply(self.service, reference, text)


@pytest.fixture
async def desk(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> Desk:
    # The channel's transport and acknowledgements are under test here: the bot is silent
    # (its own Telegram tests are in tests/kb/test_bot_telegram.py).
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    return Desk(await service_factory(settings), store_of(settings), bot_api)


def reference_in(text: str) -> int:
    found = re.search(r"#(\d+)", text)
    assert found is not None, text
    return int(found.group(1))


# -- splitting -----------------------------------------------------------------------------


def test_long_text_is_split_on_paragraphs_in_order() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(units(p) <= MAX_MESSAGE for p in parts)
    assert "\n\n".join(parts) == text  # cut only between paragraphs, nothing lost
    assert all(p.startswith("Paragraph") for p in parts)


def test_one_huge_paragraph_is_cut_between_words_and_emoji_count_double() -> None:
    text = " ".join(["😀abc"] * 3000)  # every emoji is two UTF-16 units
    parts = split_text(text)
    assert all(units(p) <= MAX_MESSAGE for p in parts)
    assert " ".join(parts).split() == text.split()
    word = "x" * 9000  # no boundary at all: cut inside it
    assert "".join(split_text(word)) == word
    assert split_text("  short  ") == ["short"] and split_text("   ") == []


def test_commands_are_recognised_and_unknown_ones_get_help() -> None:
    assert parse_command("/start") == ("start", "")
    assert parse_command("/link@inbox_test_bot Ann@Example.com ") == ("link", "Ann@Example.com")
    assert parse_command("/frobnicate now") == ("help", "now")
    assert parse_command("not /a command") is None
    assert parse_command("/") is None


# -- the channel end to end -------------------------------------------------------------------


async def test_message_ack_agent_reply_follow_up_and_files(desk: Desk) -> None:
    store, bot_api = desk.store, desk.api

    await bot_api.customer_says(ANN, "Hello, I was charged twice for my order 5512.")
    (ack,) = await bot_api.wait_for_texts(ANN, 1)
    reference = reference_in(ack)
    assert store.count("SELECT count(*) FROM conversations WHERE channel='telegram'") == 1
    (address,) = store.rows("SELECT address FROM conversations")[0]
    assert address == str(ANN)

    # A photo with a caption and a document join the open conversation, quietly.
    await bot_api.customer_says(ANN, caption="The bank statement", photo=b"\xff\xd8" + b"p" * 400)
    await bot_api.customer_says(ANN, document=("invoice.pdf", "application/pdf", b"%PDF-1.4 x"))
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    assert store.count("SELECT count(*) FROM conversations") == 1
    files = store.rows("SELECT filename, content_type, size, data FROM attachments ORDER BY id")
    assert files[0][0].endswith(".jpg") and files[0][2] == 402  # the largest photo size
    assert files[0][3] == b"\xff\xd8" + b"p" * 400
    assert files[1][:3] == ("invoice.pdf", "application/pdf", 10)
    texts = [r[0] for r in store.rows("SELECT text FROM messages WHERE direction='in' ORDER BY id")]
    assert texts[1] == "The bank statement" and "invoice.pdf" in texts[2]

    # A file the Bot API will not serve (a 404 after getFile) leaves the message kept
    # without it, marked omitted; intake does not stall on it.
    await bot_api.customer_says(
        ANN,
        caption="Receipt",
        document=("receipt.pdf", "application/pdf", b"%PDF r"),
        files_lost=True,
    )
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 4)
    assert store.rows("SELECT filename, omitted FROM attachments ORDER BY id")[-1] == (
        "receipt.pdf",
        1,
    )

    await desk.reply(reference, "We refunded the second charge.")
    sent = await bot_api.wait_for_texts(ANN, 2)
    assert sent[1] == "We refunded the second charge."
    assert len(bot_api.texts_to(ANN)) == 2  # no acknowledgement for the follow-ups


async def test_commands_start_status_human(desk: Desk) -> None:
    store, bot_api = desk.store, desk.api

    await bot_api.customer_says(ANN, "/start")
    (greeting,) = await bot_api.wait_for_texts(ANN, 1)
    assert greeting.startswith("Hello Ann!") and "/status" in greeting
    await bot_api.customer_says(ANN, "/status")
    assert "no tickets" in (await bot_api.wait_for_texts(ANN, 2))[1]
    await bot_api.customer_says(ANN, "My parcel never arrived.")
    reference = reference_in((await bot_api.wait_for_texts(ANN, 3))[2])
    await bot_api.customer_says(ANN, "/status")
    status = (await bot_api.wait_for_texts(ANN, 4))[3]
    assert f"#{reference}" in status and "telegram" in status
    await bot_api.customer_says(ANN, "/human")
    human = (await bot_api.wait_for_texts(ANN, 5))[4]
    assert f"#{reference}" in human
    assert store.count("SELECT count(*) FROM events WHERE kind='human_requested'") == 1
    assert store.count("SELECT priority FROM conversations") >= 3
    # Commands never open tickets, and none was answered twice.
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert len(bot_api.texts_to(ANN)) == 5


async def test_a_burst_of_429s_delivers_every_reply_in_order_none_twice(desk: Desk) -> None:
    store, bot_api = desk.store, desk.api
    reference = await desk.ticket("Where is my refund?")

    bot_api.rate_limit_next(4, retry_after=1)
    replies = [f"Answer number {i}." for i in range(1, 6)]
    for text in replies:
        await desk.reply(reference, text)
    sent = await bot_api.wait_for_texts(ANN, 1 + len(replies), timeout=60)
    assert sent[1:] == replies
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state != 'sent'") == 0)
    assert bot_api.calls["sendMessage"] >= 1 + len(replies) + 4


async def test_a_10000_character_answer_arrives_in_parts_in_order_even_through_a_429(
    desk: Desk,
) -> None:
    bot_api = desk.api
    reference = await desk.ticket("Please explain the whole contract.")

    sections = [(f"Section {i}. " + "The terms say this. " * 24).strip() for i in range(21)]
    answer = "\n\n".join(sections)[:9_999] + "."
    assert len(answer) == 10_000
    # The acknowledgement was call 1; the answer's second part (call 3) is rate limited.
    bot_api.rate_limit_calls(3)
    await desk.reply(reference, answer)
    expected = split_text(answer)
    assert len(expected) >= 3
    sent = await bot_api.wait_for_texts(ANN, 1 + len(expected), timeout=60)
    assert sent[1:] == expected  # in order, no part twice
    assert "\n\n".join(sent[1:]) == answer
    assert all(units(part) <= MAX_MESSAGE for part in sent)


async def test_a_customer_who_blocked_the_bot_is_recorded_not_retried(desk: Desk) -> None:
    store, bot_api = desk.store, desk.api
    reference = await desk.ticket("Cancel my subscription.")
    bot_api.blocked.add(ANN)
    await desk.reply(reference, "Cancelled.")
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    (error, attempts) = store.rows("SELECT last_error, attempts FROM outbox WHERE state='failed'")[
        0
    ]
    assert "blocked the bot" in error and attempts == 1
    assert store.count("SELECT count(*) FROM events WHERE kind='delivery_failed'") == 1


async def test_a_second_poller_is_reported_as_a_conflict_and_backs_off(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="connectors.telegram.channel")
    # The same deployment started twice (one store, one queue): both poll the one bot.
    settings = telegram_settings(tmp_path, bot_api, monkeypatch)
    store = store_of(settings)
    first: InboxService = await service_factory(settings)
    second: InboxService = await service_factory(settings)
    await until(lambda: "another process polls this bot" in caplog.text, timeout=30)
    # Both keep running, and whichever gets a message, it is one ticket, answered once.
    for i in range(3):
        await bot_api.customer_says(ANN + i, f"Is anyone there? ({i})")
        await bot_api.wait_for_texts(ANN + i, 1, timeout=30)
    assert store.count("SELECT count(*) FROM conversations") == 3
    await first.stop()
    await bot_api.customer_says(ANN + 9, "And now?")
    await bot_api.wait_for_texts(ANN + 9, 1, timeout=30)  # the other one polls on
    assert second.engine is not None
    assert all(len(bot_api.texts_to(ANN + i)) == 1 for i in (0, 1, 2, 9))


async def test_network_outage_reconnects_and_loses_nothing(desk: Desk) -> None:
    store, bot_api = desk.store, desk.api
    (connector,) = [c for c in desk.service.connectors if c.name == "telegram"]
    await until(lambda: getattr(connector, "state", "") == "polling")
    await bot_api.stop()
    await until(lambda: getattr(connector, "state", "") == "disconnected")
    # While the network is down, a customer writes; Telegram keeps the update for us.
    await bot_api.customer_says(ANN, "Hello? My card was declined.")
    await bot_api.start()
    (ack,) = await bot_api.wait_for_texts(ANN, 1, timeout=30)
    assert f"#{reference_in(ack)}" in ack
    assert store.count("SELECT count(*) FROM conversations") == 1


@pytest.mark.timeout(300)
async def test_killed_after_get_updates_before_queueing_processes_the_update_once(
    tmp_path: Path, bot_api: BotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = telegram_config(tmp_path, bot_api, monkeypatch)
    raw["web"]["port"] = 0
    config = tmp_path / "config.toml"
    config.write_text(tomlwrite.dumps(raw))
    store = Store(f"sqlite:///{tmp_path}/inbox.db")
    proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
    killed = asyncio.Event()

    async def kill_while_downloading(_file_id: str) -> None:
        # getUpdates has answered; the connector fetches the file before it queues the
        # update: the process dies right here.
        if not killed.is_set():
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            killed.set()

    bot_api.on_get_file = kill_while_downloading
    try:
        update_id = await bot_api.customer_says(
            ANN, caption="My contract", document=("contract.pdf", "application/pdf", b"%PDF c")
        )
        await asyncio.wait_for(killed.wait(), 60)
        assert any(update_id in served for served in bot_api.served)
        assert not (tmp_path / "inbox.db").exists() or (
            store.count("SELECT count(*) FROM messages") == 0
        )
        proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
        (ack,) = await bot_api.wait_for_texts(ANN, 1, timeout=60)
        reference = reference_in(ack)
        await until(lambda: store.count("SELECT count(*) FROM attachments") == 1)
        # A later message proves the redelivered update was confirmed and not re-read.
        await bot_api.customer_says(ANN, "Any news?")
        await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 2)
        assert store.count("SELECT count(*) FROM conversations") == 1
        assert store.count("SELECT reference FROM conversations") == reference
        assert bot_api.texts_to(ANN) == [ack]  # one acknowledgement, no second
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()


async def test_link_and_verify_join_telegram_and_email_histories(
    tmp_path: Path,
    bot_api: BotApi,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> None:
    raw = telegram_config(tmp_path, bot_api, monkeypatch)
    user, password = dovecot.new_user()
    monkeypatch.setenv(PASSWORD_ENV, password)
    raw["channels"]["email"] = [
        mailbox_config(dovecot, smtp_server, user, PASSWORD_ENV, reconnect_backoff=0.05)
    ]
    settings = parse_settings(raw, tmp_path)
    store = store_of(settings)
    await service_factory(settings)

    # Ann wrote by email before, and now writes on Telegram: two customers so far.
    dovecot.save(user, mail("ann@customer.test", "Broken hinge", "The hinge broke.")[0])
    (email_ack,) = await smtp_server.wait_for(1, timeout=30)
    email_ref = reference_in(str(email_ack.message["Subject"]))
    await bot_api.customer_says(ANN, "Also, my order 7781 is late.")
    chat_ref = reference_in((await bot_api.wait_for_texts(ANN, 1))[0])
    contacts = "SELECT count(DISTINCT contact_id) FROM conversations"
    assert store.count(contacts) == 2

    await bot_api.customer_says(ANN, "/link Ann@Customer.test")
    assert "a***@customer.test" in (await bot_api.wait_for_texts(ANN, 2))[1]
    code_mail = (await smtp_server.wait_for(2, timeout=30))[1]
    assert code_mail.rcpt_tos == ["ann@customer.test"]
    body = code_mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    code = re.search(r"\b(\d{6})\b", body)
    assert code is not None
    wrong = f"{(int(code.group(1)) + 1) % 1_000_000:06d}"

    await bot_api.customer_says(ANN, f"/verify {wrong}")
    assert "not right" in (await bot_api.wait_for_texts(ANN, 3))[2]
    assert store.count(contacts) == 2  # a wrong code links nothing

    await bot_api.customer_says(ANN, f"/verify {code.group(1)}")
    assert "linked" in (await bot_api.wait_for_texts(ANN, 4))[3]
    assert store.count(contacts) == 1
    await bot_api.customer_says(ANN, "/status")
    status = (await bot_api.wait_for_texts(ANN, 5))[4]
    assert f"#{email_ref}" in status and f"#{chat_ref}" in status
    # The code works once.
    await bot_api.customer_says(ANN, f"/verify {code.group(1)}")
    assert "No code is waiting" in (await bot_api.wait_for_texts(ANN, 6))[5]


# -- the edges: the token, edits, what is skipped, failures -------------------------------


async def scrape(service: InboxService) -> str:
    """The process's ``/metrics`` text."""
    url = f"http://127.0.0.1:{service.port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200
        return await r.text()


async def test_the_bot_token_never_reaches_the_log(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Everything that sees Bot API URLs, at its most talkative, from before the bot exists.
    for name in ("httpx", "httpcore", "telegram", "connectors.telegram"):
        caplog.set_level(logging.DEBUG, logger=name)
    settings = telegram_settings(tmp_path, bot_api, monkeypatch)
    await service_factory(settings)
    await bot_api.customer_says(
        ANN, caption="My invoice", document=("invoice.pdf", "application/pdf", b"%PDF i")
    )
    await bot_api.wait_for_texts(ANN, 1)  # polled, the file fetched, the answer sent

    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("getUpdates" in m for m in requests) and any("/file/bot" in m for m in requests)
    for token in (bot_api.token, quote(bot_api.token, safe="")):  # file URLs encode it
        assert [(r.name, r.getMessage()) for r in caplog.records if token in r.getMessage()] == []
        assert token not in caplog.text
    assert any("/bot<bot-token>/getUpdates" in m for m in requests)  # still useful


async def test_an_edit_joins_the_conversation_quietly(desk: Desk) -> None:
    store, bot_api = desk.store, desk.api
    first = await bot_api.customer_says(ANN, "My order 5512 never arrived.")
    reference = reference_in((await bot_api.wait_for_texts(ANN, 1))[0])

    await bot_api.customer_edits(first, "My order 5513 never arrived.")
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 2)
    (edit, meta) = store.rows("SELECT text, meta FROM messages WHERE direction='in' ORDER BY id")[1]
    assert "5513" in edit and edit.startswith("(edited")
    assert '"edit_of"' in str(meta)
    assert store.count("SELECT count(*) FROM conversations") == 1

    await desk.reply(reference, "Order 5513 is on its way.")
    sent = await bot_api.wait_for_texts(ANN, 2)
    assert sent[1] == "Order 5513 is on its way."  # and no second acknowledgement before it


async def test_group_blank_and_edited_command_updates_are_skipped_logged_and_counted(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.telegram.channel")
    store, bot_api = desk.store, desk.api
    # A group message, a blank text, an edited command: none is a ticket, none answered.
    await bot_api.customer_says(-100_777, "Hello everyone", chat_type="group")
    await bot_api.customer_says(ANN + 1, "   \n\t  ")
    command = await bot_api.customer_says(ANN + 2, "/status")
    await bot_api.wait_for_texts(ANN + 2, 1)
    await bot_api.customer_edits(command, "/human")
    # A later message gets through: the skipped updates are confirmed, nothing else lost.
    await bot_api.customer_says(ANN + 3, "Is my parcel lost?")
    await bot_api.wait_for_texts(ANN + 3, 1)
    await until(lambda: not bot_api.updates)
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT count(*) FROM messages WHERE direction='in'") == 1
    assert not bot_api.texts_to(ANN + 1) and not bot_api.texts_to(-100_777)
    assert len(bot_api.texts_to(ANN + 2)) == 1

    metrics = await scrape(desk.service)
    for reason in ("group", "empty", "edited_command"):
        assert f'inbox_telegram_skipped_total{{reason="{reason}"}} 1' in metrics
    assert 'inbox_telegram_skipped_total{reason="channel"} 0' in metrics
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 3 and any("group chat -100777" in m for m in skipped)


async def test_back_off_starts_small_again_after_a_good_poll(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> None:
    # Without a reset, the ninth failure of the process's life waits 6 to 13 seconds.
    settings = telegram_settings(
        tmp_path, bot_api, monkeypatch, reconnect_backoff=0.05, reconnect_backoff_max=60
    )
    store = store_of(settings)
    await service_factory(settings)
    for i in range(1, 11):
        bot_api.fail_polls(1)  # one failed poll, then Telegram is fine again
        await bot_api.customer_says(ANN, f"Question number {i}?")
        inbound = f"SELECT count(*) FROM messages WHERE direction='in' AND text LIKE '%number {i}?'"
        await until(lambda: store.count(inbound) == 1, timeout=5)  # noqa: B023
    assert bot_api.failing_polls == 0  # every round's poll did fail
    assert store.count("SELECT count(*) FROM conversations") == 1


@pytest.mark.parametrize("trouble", ["5xx", "hang"])
async def test_a_file_telegram_cannot_give_blocks_no_chat_and_its_message_is_kept(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
    trouble: str,
) -> None:
    settings = telegram_settings(tmp_path, bot_api, monkeypatch, timeout=1)
    store = store_of(settings)
    await service_factory(settings)
    await bot_api.customer_says(
        ANN,
        caption="Here is my receipt",
        document=("receipt.pdf", "application/pdf", b"%PDF r"),
        file_trouble=trouble,
    )
    await bot_api.customer_says(ANN + 1, "Where is my refund?")
    await bot_api.wait_for_texts(ANN + 1, 1)  # the other chat is not held up
    await bot_api.wait_for_texts(ANN, 1)  # and the message with the file is a ticket
    ((file_id, _trouble),) = bot_api.troubled.items()
    (text, meta) = store.rows(
        "SELECT m.text, m.meta FROM messages m JOIN conversations c"
        f" ON c.id = m.conversation_id WHERE c.address = '{ANN}' AND m.direction = 'in'"
    )[0]
    assert text.startswith("Here is my receipt") and "could not be fetched" in text
    assert file_id in text and file_id in str(meta)
    assert store.rows("SELECT filename, omitted FROM attachments") == [("receipt.pdf", 1)]
    assert len(bot_api.texts_to(ANN)) == 1 and len(bot_api.texts_to(ANN + 1)) == 1
