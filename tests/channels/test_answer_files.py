"""Files from agents: an answer with files attached reaches the customer by email (MIME
attachments, through the real SMTP server) and on Telegram (documents, through the Bot
API stand-in, each once even when a send is retried); a file over the size limit, or one
too many, is refused with the limit in words and nothing is stored or sent."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import DeskSettings, Settings, parse_settings
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.config import without_bot
from tests.support.mailbox import mail
from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer
from tests.support.staff_web import call
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

LIMITS = {"attachment_max_mb": 0.0625, "attachment_max_count": 2}  # 64 KB, two files
REPORT = ("report.pdf", "application/pdf", b"%PDF-1.4 the refund statement " * 100)
PAGE = ("..\\..\\notes<1>.html", "text/html", b"<script>alert('hi')</script>")
AGENT_FILES = (
    "SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id "
    "WHERE m.direction = 'out'"
)
AGENT_ANSWERS = "SELECT count(*) FROM messages WHERE author = 'agent'"


async def answer(
    service: InboxService,
    reference: int,
    token: str,
    text: str,
    files: list[tuple[str, str, bytes]],
) -> tuple[int, Any]:
    """Posts an answer as the desk's composer does: a form with the files attached."""
    form = aiohttp.FormData()
    form.add_field("text", text)
    for name, content_type, data in files:
        form.add_field("files", data, filename=name, content_type=content_type)
    url = f"http://127.0.0.1:{service.port}/api/conversations/{reference}/reply"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status, await r.json()


async def _refusals(service: InboxService, store: Store, reference: int, token: str) -> None:
    """Over the size limit, or one file too many: 413 with the limit in words; nothing of
    the answer is stored (so nothing can be sent)."""
    big = ("scan.tiff", "image/tiff", b"x" * (64 * 1024 + 1))
    status, body = await answer(service, reference, token, "Here it is.", [REPORT, big])
    assert (
        status == 413 and body["error"] == "scan.tiff is too large: each file may be at most 64 KB"
    )
    status, body = await answer(service, reference, token, "Here.", [REPORT, REPORT, REPORT])
    assert status == 413 and body["error"] == "too many files: at most 2 on one answer"
    url = f"http://127.0.0.1:{service.port}/api/conversations/{reference}/reply"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "multipart/form-data; boundary=zz",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=b"no form", headers=headers) as r,
    ):
        assert r.status == 422 and "not a readable form" in (await r.json())["error"]
    assert store.count(AGENT_ANSWERS) == 0 and store.count(AGENT_FILES) == 0


async def test_an_agents_files_reach_the_customer_by_email(
    mail_config: dict[str, Any],
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    tmp_path: Path,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    mail_config["desk"] = LIMITS
    settings = without_bot(parse_settings(mail_config, tmp_path))
    user = settings.email[0].imap_user
    store = store_of(settings)
    service = await service_factory(settings)
    dovecot.save(user, mail("ann@customer.test", "Refund", "Please refund order 5512.")[0])
    await smtp_server.wait_for(1, timeout=30)  # the acknowledgement
    ((reference, team),) = store.rows("SELECT reference, team FROM conversations")
    assert service.engine is not None
    _agent, token = await Accounts(service.engine).add_agent("ada", [team])

    await _refusals(service, store, int(reference), token)
    assert len(smtp_server.received) == 1

    status, body = await answer(
        service, int(reference), token, "Your statement and notes are attached.", [REPORT, PAGE]
    )
    assert status == 202 and body["files"] == 2
    _ack, sent = await smtp_server.wait_for(2, timeout=30)
    message = sent.message
    assert (
        sent.rcpt_tos == ["ann@customer.test"] and message.get_content_type() == "multipart/mixed"
    )
    body_part = message.get_body(("plain",))
    assert body_part is not None and "statement and notes are attached" in body_part.get_content()
    files = [
        (p.get_filename(), p.get_content_type(), p.get_content())
        for p in message.iter_attachments()
    ]
    # The name loses its path and the characters mail programs refuse; the bytes are intact.
    assert files == [
        ("report.pdf", "application/pdf", REPORT[2]),
        ("notes_1_.html", "text/html", PAGE[2].decode()),
    ]
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 2)

    # The desk shows them on the agent's message, and downloads them.
    status, view = await call(service, "GET", f"/api/conversations/{reference}", token)
    (mine,) = [m for m in view["messages"] if m["author"] == "agent"]
    assert [(f["filename"], f["size"]) for f in mine["attachments"]] == [
        ("report.pdf", len(REPORT[2])),
        ("notes_1_.html", len(PAGE[2])),
    ]
    url = (
        f"http://127.0.0.1:{service.port}/api/conversations/{reference}/attachments/"
        f"{mine['attachments'][0]['id']}"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 200 and await r.read() == REPORT[2]

    # An answer without files is JSON as before, and a mail without attachments.
    path = f"/api/conversations/{reference}/reply"
    status, _ = await call(service, "POST", path, token, {"text": "Anything else?"})
    assert status == 202
    *_, plain = await smtp_server.wait_for(3, timeout=30)
    assert not list(plain.message.iter_attachments())


async def test_an_agents_files_reach_a_telegram_customer_each_once(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    settings = dataclasses.replace(
        settings, desk=DeskSettings(attachment_max_bytes=64 * 1024, attachment_max_count=2)
    )
    store = store_of(settings)
    service = await service_factory(settings)
    await bot_api.customer_says(ANN, "Please send me the statement for my refund.")
    (ack,) = await bot_api.wait_for_texts(ANN, 1)
    found = re.search(r"#(\d+)", ack)
    assert found is not None
    reference = int(found.group(1))
    ((team,),) = store.rows("SELECT team FROM conversations")
    assert service.engine is not None
    _agent, token = await Accounts(service.engine).add_agent("ada", [team])

    await _refusals(service, store, reference, token)
    assert bot_api.calls.get("sendDocument", 0) == 0 and bot_api.texts_to(ANN) == [ack]

    # The text goes out, then the first file; Telegram refuses the second for a second
    # (429). The retry sends the second file alone: nothing reaches the customer twice.
    bot_api.rate_limit_calls(len(bot_api.sent) + 3)
    notes = ("notes.txt", "text/plain", b"Refund approved on 3 May.")
    status, _ = await answer(service, reference, token, "Here they are.", [REPORT, notes])
    assert status == 202
    await bot_api.wait_for(lambda: len(bot_api.documents_to(ANN)) == 2)
    assert bot_api.texts_to(ANN) == [ack, "Here they are."]
    assert [(name, data) for name, _type, data in bot_api.documents_to(ANN)] == [
        ("report.pdf", REPORT[2]),
        ("notes.txt", notes[2]),
    ]
    assert bot_api.calls["sendDocument"] == 3  # the second file: refused once, then sent
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 2)
    ((parts_sent, attempts),) = store.rows(
        "SELECT parts_sent, attempts FROM outbox WHERE message_id IN "
        "(SELECT id FROM messages WHERE author = 'agent')"
    )
    assert parts_sent == 2 and attempts == 1  # the wait Telegram asked for is no try


async def test_try_again_after_a_refused_file_sends_only_what_was_not_delivered(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    store = store_of(settings)
    service = await service_factory(settings)
    await bot_api.customer_says(ANN, "Please send me the statement for my refund.")
    (ack,) = await bot_api.wait_for_texts(ANN, 1)
    found = re.search(r"#(\d+)", ack)
    assert found is not None
    reference = int(found.group(1))
    ((team,),) = store.rows("SELECT team FROM conversations")
    assert service.engine is not None
    _agent, token = await Accounts(service.engine).add_agent("ada", [team])

    async def block_at_first_file(call_number: int) -> None:
        if call_number == 1:  # the text went out; the customer blocks the bot now
            bot_api.blocked.add(ANN)

    bot_api.on_send_document = block_at_first_file
    notes = ("notes.txt", "text/plain", b"Refund approved on 3 May.")
    status, body = await answer(service, reference, token, "Here they are.", [REPORT, notes])
    assert status == 202
    failed = "SELECT parts_sent, last_error FROM outbox WHERE state = 'failed'"
    ((parts_sent, error),) = await until(lambda: store.rows(failed))
    assert parts_sent == 1 and "blocked" in error  # the text was delivered, no file

    bot_api.blocked.discard(ANN)  # unblocked: an agent tries again
    path = f"/api/conversations/{reference}/retry"
    status, _ = await call(service, "POST", path, token, {"message": body["message_id"]})
    assert status == 202
    await bot_api.wait_for(lambda: len(bot_api.documents_to(ANN)) == 2)
    assert bot_api.texts_to(ANN) == [ack, "Here they are."]  # the text, once
    assert [name for name, _type, _data in bot_api.documents_to(ANN)] == [
        "report.pdf",
        "notes.txt",
    ]
