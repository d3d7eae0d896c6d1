"""The email channel end to end: a real Dovecot (IMAP) in, a real SMTP server out."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.mail.imap import ImapIngest
from connectors.mail.smtp import build_message
from inbox import tomlwrite
from inbox.cli.bench import start_service
from inbox.config.settings import Settings, parse_settings
from inbox.models import Envelope, Outbound, Receipt
from inbox.queue import Queue, open_queue
from inbox.service.app import InboxService
from tests.support.config import without_bot
from tests.support.mailbox import SUPPORT, Mailbox, email_config, email_settings, mail
from tests.support.mailservers import Dovecot
from tests.support.paths import SHARED_DATA
from tests.support.smtp_server import SmtpServer
from tests.support.store import Store, store_of
from tests.support.waiting import until


async def test_round_trip_ack_reply_and_agent_answer_are_threaded(
    mailbox: Mailbox,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
) -> None:
    # The acknowledgement path is under test: the bot is silent (tests/kb has its own).
    mailbox.settings = without_bot(mailbox.settings)
    user, store = mailbox.user, mailbox.store
    service: InboxService = await mailbox.start()

    first, first_id = mail(
        "Ann Customer <ann@customer.test>",
        "I was charged twice",
        "Hello, my card was charged twice for the same invoice this month.",
    )
    dovecot.save(user, first)
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    reference = store.count("SELECT reference FROM conversations")
    assert ack.rcpt_tos == ["ann@customer.test"]
    assert ack.message["Subject"] == f"Re: I was charged twice [#{reference}]"
    assert ack.message["In-Reply-To"] == first_id
    assert ack.message["Auto-Submitted"] == "auto-replied"
    assert ack.message["From"] == f"Inbox Support <{SUPPORT}>"
    assert f"#{reference}" in ack.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # The customer answers the acknowledgement: it joins the same conversation, quietly.
    ack_id = str(ack.message["Message-ID"])
    reply, reply_id = mail(
        "ann@customer.test",
        f"Re: I was charged twice [#{reference}]",
        "Here is the invoice number: 55120.\n\n> Thank you, we have your message.",
        in_reply_to=ack_id,
        references=f"{first_id} {ack_id}",
    )
    dovecot.save(user, reply)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 2)
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT count(*) FROM outbox") == 1  # no acknowledgement for a reply

    # The agent answers: the mail goes out threaded under the customer's latest mail.
    assert service.engine is not None
    from inbox.store.accounts import Accounts

    _agent, token = await Accounts(service.engine).add_agent("ed", ["billing", "triage"])
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}/api/conversations/{reference}/reply"
        async with http.post(
            url, json={"text": "Refunded, sorry!"}, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 202, await r.text()
    answer = (await smtp_server.wait_for(2, timeout=30))[1]
    assert answer.message["In-Reply-To"] == reply_id
    assert answer.message["References"].split() == [first_id, ack_id, reply_id]
    assert answer.message["Subject"] == f"Re: I was charged twice [#{reference}]"
    assert answer.message["Auto-Submitted"] is None
    assert "Refunded, sorry!" in answer.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_hostile_header_values_never_add_headers() -> None:
    settings_box = _box()
    outbound = Outbound(
        outbox_id=7,
        message_id=9,
        channel="email",
        address="ann@customer.test",
        text="Body\r\nBcc: victim@example.com",
        reference=1042,
        subject="Hello\r\nBcc: victim@example.com",
        in_reply_to="<x@y>\r\nBcc: victim@example.com",
        references=("<a@b>", "<c@d>\r\nX-Evil: 1"),
    )
    message = build_message(outbound, settings_box, b"k" * 32)
    head, body = message.as_bytes().split(b"\r\n\r\n", 1)
    assert b"\nBcc:" not in head and b"\nX-Evil" not in head
    assert b"Bcc: victim@example.com" in body  # the text stays text
    assert message["In-Reply-To"] is None  # not a valid Message-ID: left out
    assert message["References"] == "<a@b>"
    assert message["Subject"] == "Re: Hello Bcc: victim@example.com [#1042]"
    # The same outbox row always gets the same Message-ID, so a retry is one message.
    assert build_message(outbound, settings_box, b"k" * 32)["Message-ID"] == message["Message-ID"]
    bad = Outbound(7, 9, "email", "ann@customer.test\r\nBcc: x@y", "hi", 1042)
    from inbox.errors import PermanentError

    with pytest.raises(PermanentError):
        build_message(bad, settings_box, b"k" * 32)


def _box() -> Any:
    raw = {
        "address": SUPPORT,
        "imap_host": "127.0.0.1",
        "imap_user": "",
        "smtp_host": "127.0.0.1",
    }
    from inbox.config.parse_channels import parse_mailboxes as _email_settings

    return _email_settings([raw])[0]


async def test_outage_of_500_mails_gives_exactly_500_tickets(
    mailbox: Mailbox,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
) -> None:
    user, store = mailbox.user, mailbox.store
    # The connector has never run: 500 mails wait in the mailbox.
    dovecot.save_many(
        user,
        [
            mail(f"c{i}@customer.test", f"Order {i}", f"Parcel {i} has not arrived yet.")[0]
            for i in range(500)
        ],
    )
    service: InboxService = await mailbox.start()
    await until(lambda: store.count("SELECT count(*) FROM conversations") >= 500, timeout=120)
    await smtp_server.wait_for(500, timeout=120)
    await service.stop()
    # A restart finds nothing new: the watermark covers all 500.
    dovecot.save(user, mail("late@customer.test", "One more", "And this one?")[0])
    await mailbox.start()
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 501)
    assert (
        store.count("SELECT count(DISTINCT external_id) FROM messages WHERE direction='in'") == 501
    )
    assert store.count("SELECT count(*) FROM messages WHERE direction='in'") == 501
    await smtp_server.wait_for(501, timeout=60)
    recipients = [m.rcpt_tos[0] for m in smtp_server.received]
    assert len(recipients) == len(set(recipients)) == 501


async def test_uidvalidity_change_imports_new_mail_only(
    mailbox: Mailbox,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
) -> None:
    settings, user, store = mailbox.settings, mailbox.user, mailbox.store
    for i in range(3):
        dovecot.save(user, mail(f"u{i}@customer.test", f"Question {i}", f"Text {i}")[0])
    service: InboxService = await mailbox.start()
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 3)
    await service.stop()

    dovecot.set_uidvalidity(user, "INBOX", dovecot.uidvalidity(user) + 1000)
    dovecot.save(user, mail("new@customer.test", "Question 4", "A new one")[0])
    await mailbox.start()
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 4)
    await smtp_server.wait_for(4, timeout=30)
    # Give a re-import every chance to show: the queue has drained and nothing doubled.
    queue_db = settings.queue.path
    await until(
        lambda: (
            Store(f"sqlite:///{queue_db}").count("SELECT count(*) FROM items WHERE state != 'done'")
            == 0
        )
    )
    assert store.count("SELECT count(*) FROM messages WHERE direction='in'") == 4
    assert len(smtp_server.received) == 4


async def test_auto_replies_and_bounces_are_stored_but_never_answered(
    mailbox: Mailbox,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
) -> None:
    settings, user, store = mailbox.settings, mailbox.user, mailbox.store
    await mailbox.start()
    dovecot.save(user, mail("bob@customer.test", "Login broken", "I cannot log in.")[0])
    (ack,) = await smtp_server.wait_for(1, timeout=30)

    # Bob's out-of-office answers our acknowledgement; a bounce comes from his server.
    ooo, _ = mail(
        "bob@customer.test",
        "Automatic reply: Login broken",
        "I am away until Monday.",
        in_reply_to=str(ack.message["Message-ID"]),
        headers={"Auto-Submitted": "auto-replied"},
    )
    bounce, _ = mail(
        "MAILER-DAEMON@customer.test",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host customer.test.",
    )
    dovecot.save(user, ooo)
    dovecot.save(user, bounce)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    assert store.count("SELECT count(*) FROM outbox") == 1
    kinds = [r[0] for r in store.rows("SELECT kind FROM events ORDER BY id")]
    assert kinds.count("automated_message") == 2
    # The out-of-office joined Bob's ticket without reopening or answering it.
    assert store.count("SELECT count(*) FROM conversations") == 2

    # An auto-responder without the headers still meets the per-address limit. (Texts of
    # one meaning would be merged as one issue before any limit: these differ.)
    topics = [
        "Your invoice for March is attached",
        "The parcel left our warehouse today",
        "Your password was changed",
        "Our office is closed on Friday",
        "The app update is ready to install",
        "Thank you for attending the webinar",
        "Happy birthday from all of us",
    ]
    for i, topic in enumerate(topics):
        dovecot.save(user, mail("loop@customer.test", f"Re: ticket {i}", topic)[0])
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 10)
    limit = settings.email[0].acknowledgements_per_hour
    assert store.count("SELECT count(*) FROM outbox WHERE address='loop@customer.test'") == limit
    suppressed = store.count("SELECT count(*) FROM events WHERE kind='acknowledgement_suppressed'")
    assert suppressed == 7 - limit
    await smtp_server.wait_for(1 + limit, timeout=30)


async def test_smtp_failures_retry_with_one_message_id_and_rejections_show(
    mailbox: Mailbox,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
) -> None:
    user, store = mailbox.user, mailbox.store
    await mailbox.start()
    smtp_server.fail_next(2)  # 451 twice, then accepted
    dovecot.save(user, mail("t1@customer.test", "Temporary", "First")[0])
    (first,) = await smtp_server.wait_for(1, timeout=30)
    assert store.count("SELECT attempts FROM outbox WHERE address='t1@customer.test'") == 3

    smtp_server.drop_after_data_next(1)  # the server may have it: retried, same Message-ID
    dovecot.save(user, mail("t2@customer.test", "Dropped", "Second")[0])
    (dropped,) = await smtp_server.wait_for_dropped(1, timeout=30)
    second = (await smtp_server.wait_for(2, timeout=30))[1]
    assert dropped.message["Message-ID"] == second.message["Message-ID"]
    assert first.message["Message-ID"] != second.message["Message-ID"]

    smtp_server.reject_next(1)  # 550: failed for good, shown on the conversation
    dovecot.save(user, mail("t3@customer.test", "Rejected", "Third")[0])
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    (error,) = store.rows("SELECT last_error FROM outbox WHERE address='t3@customer.test'")[0]
    assert "550" in error
    assert store.count("SELECT count(*) FROM events WHERE kind='delivery_failed'") == 1


async def test_every_hostile_mail_becomes_a_ticket_or_quarantine_with_raw_bytes(
    mailbox: Mailbox,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
) -> None:
    files = sorted(
        p for p in (SHARED_DATA / "hostile-mail").rglob("*") if p.suffix in (".eml", ".txt")
    )
    assert len(files) >= 70
    user, store = mailbox.user, mailbox.store
    dovecot.save_many(user, [p.read_bytes() for p in files])
    await mailbox.start()

    def normal(data: bytes) -> bytes:
        # As IMAP serves it: CRLF line ends, and Dovecot turns NUL bytes (which IMAP
        # cannot carry) into 0x80. What we keep is the mail as the server gave it to us.
        return data.replace(b"\r\n", b"\n").replace(b"\x00", b"\x80").rstrip(b"\n")

    def kept() -> set[bytes]:
        return {
            normal(r[0]) for r in store.rows("SELECT data FROM attachments WHERE kind='original'")
        }

    wanted = {normal(p.read_bytes()) for p in files}
    try:
        await until(lambda: wanted <= kept(), timeout=120)
    except AssertionError:
        missing = [p.name for p in files if normal(p.read_bytes()) not in kept()]
        raise AssertionError(f"not kept: {missing}") from None
    tickets = store.count("SELECT count(*) FROM messages WHERE direction='in'")
    quarantined = store.count("SELECT count(*) FROM quarantine")
    assert tickets > 0 and tickets + quarantined >= len(wanted)
    for (html,) in store.rows("SELECT html FROM messages WHERE html IS NOT NULL"):
        lowered = html.lower()
        assert "<script" not in lowered and "javascript:" not in lowered
        assert " onerror=" not in lowered and " onload=" not in lowered
    # The connector is still alive and well.
    dovecot.save(user, mail("after@customer.test", "Still there?", "Hello again")[0])
    await until(
        lambda: (
            store.count("SELECT count(*) FROM identities WHERE address='after@customer.test'") == 1
        )
    )


KILLED_MAILS = 600


@pytest.mark.timeout(600)
async def test_sigkill_during_intake_and_processing_never_duplicates(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small fetch batches: many put+watermark steps, so the kill lands between two.
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch, fetch_batch=5)
    raw["web"]["port"] = 0
    config = tmp_path / "config.toml"
    config.write_text(tomlwrite.dumps(raw))
    store = Store(f"sqlite:///{tmp_path}/inbox.db")
    queue = Store(f"sqlite:///{tmp_path}/queue.db")
    dovecot.save_many(
        user,
        [
            mail(f"k{i}@customer.test", f"Refund {i}", f"Please refund order {i}.")[0]
            for i in range(KILLED_MAILS)
        ],
    )

    def watermark() -> int:
        if not (tmp_path / "queue.db").exists():
            return 0
        rows = queue.rows("SELECT value FROM cursors WHERE source LIKE 'imap:%'")
        return int(rows[0][0].split(":")[1]) if rows else 0

    def tickets() -> int:
        if not (tmp_path / "inbox.db").exists():
            return 0
        return store.count("SELECT count(*) FROM conversations")

    # Kill 1: while mail is being fetched and queued.
    proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
    try:
        await until(lambda: watermark() > 0, timeout=60, interval=0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    at_first_kill = watermark()
    assert 0 < at_first_kill < KILLED_MAILS, "the kill must land mid-intake to mean anything"

    # Kill 2: while the worker is storing tickets and the sender is acknowledging them.
    proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
    try:
        await until(lambda: tickets() > 0, timeout=120, interval=0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert tickets() < KILLED_MAILS, "the kill must land mid-processing to mean anything"

    proc, _base = await start_service(config, stderr=asyncio.subprocess.DEVNULL)
    try:
        await until(lambda: tickets() >= KILLED_MAILS, timeout=300, interval=0.1)
        await until(
            lambda: store.count("SELECT count(*) FROM outbox WHERE state != 'sent'") == 0,
            timeout=120,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert watermark() == KILLED_MAILS
    assert store.count("SELECT count(*) FROM messages WHERE direction='in'") == KILLED_MAILS
    assert store.count("SELECT count(*) FROM conversations") == KILLED_MAILS
    assert store.count("SELECT count(DISTINCT conversation_id) FROM outbox") == KILLED_MAILS
    assert store.count("SELECT count(*) FROM outbox") == KILLED_MAILS
    # Each acknowledgement reached the SMTP server under one Message-ID (a send repeated
    # after a kill between sending and recording it reuses that Message-ID).
    received = await smtp_server.wait_for(KILLED_MAILS, timeout=60)
    by_id = {str(m.message["Message-ID"]): m.rcpt_tos[0] for m in received}
    assert len(by_id) == KILLED_MAILS
    assert len(set(by_id.values())) == KILLED_MAILS


async def test_agents_get_sanitised_html_and_files_only_as_downloads(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    config = tmp_path / "config.toml"
    config.write_text(tomlwrite.dumps(raw))
    settings = parse_settings(raw, tmp_path)
    store = store_of(settings)
    service: InboxService = await service_factory(settings)

    message = EmailMessage()
    message["From"] = "Eve <eve@customer.test>"
    message["To"] = SUPPORT
    message["Subject"] = "<script>alert(1)</script> my invoice"
    message["Message-ID"] = make_msgid(domain="customer.test")
    message.set_content("Invoice attached, the amount is wrong.")
    message.add_alternative(
        '<p onclick="alert(2)">Invoice <b>attached</b></p><script>alert(3)</script>'
        '<a href="javascript:alert(4)">x</a><img src=x onerror=alert(5)>',
        subtype="html",
    )
    message.add_attachment(
        b"<html><script>alert(6)</script></html>",
        maintype="text",
        subtype="html",
        filename='../../"><script>alert(7)</script>.html',
    )
    dovecot.save(user, message.as_bytes())
    no_sender = (
        b"Subject: who sent this?\r\nMessage-ID: <nofrom@x>\r\n\r\nNo From header at all.\r\n"
    )
    dovecot.save(user, no_sender)
    await until(lambda: store.count("SELECT count(*) FROM quarantine") == 1)
    reference = (await until(lambda: store.rows("SELECT reference FROM conversations")))[0][0]

    assert service.engine is not None
    from inbox.store.accounts import Accounts

    _agent, token = await Accounts(service.engine).add_agent("ann", ["billing", "triage"])
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{service.port}/api/conversations/{reference}"
    async with aiohttp.ClientSession() as http:
        async with http.get(base, headers=headers) as r:
            view = await r.json()
        (inbound,) = [m for m in view["messages"] if m["direction"] == "in"]
        html = inbound["html"].lower()
        assert "invoice <b>attached</b>" in html
        for bad in ("<script", "onclick", "onerror", "javascript:"):
            assert bad not in html
        files = {f["kind"]: f for f in inbound["attachments"]}
        assert "/" not in files["attachment"]["filename"]
        async with http.get(
            f"{base}/attachments/{files['attachment']['id']}", headers=headers
        ) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/octet-stream"
            assert r.headers["Content-Disposition"].startswith("attachment;")
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert await r.read() == b"<html><script>alert(6)</script></html>"
        async with http.get(f"{base}/attachments/{files['original']['id']}", headers=headers) as r:
            assert r.status == 200 and b"Invoice attached" in await r.read()
        # Another team's agent cannot fetch it: the conversation does not exist for them.
        _other, other = await Accounts(service.engine).add_agent("bo", ["orders"])
        async with http.get(
            f"{base}/attachments/{files['attachment']['id']}",
            headers={"Authorization": f"Bearer {other}"},
        ) as r:
            assert r.status == 404

    # The operator sees the quarantined mail and gets its original bytes back.
    from inbox.cli.main import main

    assert await asyncio.to_thread(main, ["--config", str(config), "quarantine"]) == 0
    listing = capsys.readouterr().out
    assert "who sent this?" in listing and "From" in listing
    (entry_id,) = store.rows("SELECT id FROM quarantine")[0]
    from inbox.store.files import Quarantine

    original = await Quarantine(service.engine).original(entry_id)
    assert original.replace(b"\r\n", b"\n") == no_sender.replace(b"\r\n", b"\n")


class _WatchedSink:
    """The real queue, noting the subjects it takes and running ``after_put`` after each put."""

    def __init__(self, queue: Queue, after_put: Callable[[list[str]], Any] | None = None) -> None:
        self.queue = queue
        self.subjects: list[str] = []
        self.after_put = after_put

    async def put(
        self, envelopes: Sequence[Envelope], cursor: tuple[str, str] | None = None
    ) -> list[Receipt]:
        receipts = await self.queue.put(envelopes, cursor)
        self.subjects += [e.subject for e in envelopes]
        if self.after_put is not None:
            await asyncio.to_thread(self.after_put, self.subjects)
        return receipts

    async def cursor(self, source: str) -> str | None:
        return await self.queue.cursor(source)


async def _stop(task: asyncio.Task[None], queue: Queue) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await queue.close()


async def test_mail_arriving_during_a_fetch_is_fetched_at_once_not_at_idle_renewal(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two mails per fetch and an IDLE renewal far beyond the test's patience: only looking
    # again after the fetch can find the late mail in time.
    settings, user = email_settings(
        tmp_path, dovecot, smtp_server, monkeypatch, fetch_batch=2, idle_renew=1200
    )
    dovecot.save_many(user, [mail(f"e{i}@customer.test", f"Early {i}", "Hi")[0] for i in range(4)])
    late = mail("late@customer.test", "Late", "I arrived while the others were fetched.")[0]

    def deliver_late_mail(subjects: list[str]) -> None:
        if len(subjects) == 2:  # the first fetch is stored, the second is still to come
            dovecot.save(user, late)

    queue = await open_queue(settings.queue)
    sink = _WatchedSink(queue, deliver_late_mail)
    task = asyncio.create_task(ImapIngest(settings.email[0]).run(sink))
    try:
        await until(lambda: "Late" in sink.subjects, timeout=10)
    finally:
        await _stop(task, queue)
    assert sorted(sink.subjects) == ["Early 0", "Early 1", "Early 2", "Early 3", "Late"]


async def test_frozen_or_killed_imap_server_is_noticed_within_seconds_and_rejoined(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    states: list[str] = []
    with Dovecot() as server:
        settings, user = email_settings(
            tmp_path, server, smtp_server, monkeypatch, idle_renew=0.5, probe_timeout=1, timeout=3
        )
        queue = await open_queue(settings.queue)
        sink = _WatchedSink(queue)
        task = asyncio.create_task(ImapIngest(settings.email[0], on_state=states.append).run(sink))
        try:
            server.save(user, mail("a@customer.test", "Before", "Hello")[0])
            await until(lambda: sink.subjects == ["Before"])

            # Frozen: the connection stays open and nothing answers (a hung server, a
            # network gone quiet). The next IDLE renewal finds out.
            server.freeze()
            seen = len(states)
            await until(lambda: any(s.startswith("disconnected") for s in states[seen:]), timeout=5)
            server.thaw()
            server.save(user, mail("b@customer.test", "After thaw", "Hello again")[0])
            await until(lambda: "After thaw" in sink.subjects, timeout=20)

            # Killed: the server side of the connection goes away.
            await until(lambda: states[-1] == "connected")
            assert server.kill_sessions() >= 1
            seen = len(states)
            await until(lambda: any(s.startswith("disconnected") for s in states[seen:]), timeout=5)
            server.save(user, mail("c@customer.test", "After kill", "Still there?")[0])
            await until(lambda: "After kill" in sink.subjects, timeout=20)
        finally:
            await _stop(task, queue)
    assert sink.subjects == ["Before", "After thaw", "After kill"]


def _report(sender: str, report_type: str, reported_id: str, subject: str) -> bytes:
    """A bounce, complaint or read receipt as mail servers and clients send them: no
    In-Reply-To, the mail it reports on named only inside the report."""
    original = {
        "delivery-status": ("text/rfc822-headers", f"Message-ID: {reported_id}\r\n"),
        "feedback-report": ("message/rfc822", f"Message-ID: {reported_id}\r\n\r\nHello\r\n"),
        "disposition-notification": (
            "message/disposition-notification",
            f"Original-Message-ID: {reported_id}\r\nDisposition: automatic-action; displayed\r\n",
        ),
    }[report_type]
    return (
        f"From: {sender}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n"
        f"Message-ID: {make_msgid(domain='mx.customer.test')}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="r"\r\n\r\n'
        f"--r\r\nContent-Type: text/plain\r\n\r\n{subject}: about a message you sent.\r\n"
        f"--r\r\nContent-Type: {original[0]}\r\n\r\n{original[1]}--r--\r\n"
    ).encode()


@pytest.mark.both_backends
async def test_bounces_complaints_and_receipts_stay_on_their_conversation_unanswered(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    settings, user, store = mailbox.settings, mailbox.user, mailbox.store
    await mailbox.start()
    dovecot.save(user, mail("ann@customer.test", "Refund", "Please refund my order 5512.")[0])
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    ours = str(ack.message["Message-ID"])
    (ann_ticket,) = store.rows("SELECT id FROM conversations")[0]

    reports = [
        _report("MAILER-DAEMON@mx.customer.test", "delivery-status", ours, "Delivery failure"),
        _report("Feedback Loop <fbl@isp.test>", "feedback-report", ours, "Abuse report"),
        _report("ann@customer.test", "disposition-notification", ours, "Read: Refund"),
        # A bounce of nothing we can find: kept on a ticket of the fallback team.
        mail("postmaster@elsewhere.test", "Undeliverable", "Your mail could not be delivered.")[0],
    ]
    for raw in reports:
        dovecot.save(user, raw)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 5)

    on_ann = f"SELECT count(*) FROM messages WHERE direction='in' AND conversation_id={ann_ticket}"
    assert store.count(on_ann) == 4
    ((team,),) = store.rows(f"SELECT team FROM conversations WHERE id != {ann_ticket}")
    assert team == settings.routing.fallback_team
    assert store.count("SELECT count(*) FROM events WHERE kind='automated_message'") == 4
    assert store.count("SELECT count(*) FROM events WHERE kind='customer_replied'") == 0
    # Never answered; never a customer to compare with (merges, incidents).
    assert store.count("SELECT count(*) FROM outbox") == 1
    assert store.count("SELECT count(*) FROM message_vectors") == 1
    assert len(smtp_server.received) == 1


@pytest.mark.both_backends
async def test_mailer_daemons_never_raise_an_incident(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    raw["incidents"]["customers"] = 3
    settings = parse_settings(raw, tmp_path)
    store = store_of(settings)
    await service_factory(settings)
    # The same bounce from three mail servers: three senders, one text.
    for domain in ("a.test", "b.test", "c.test"):
        dovecot.save(
            user,
            mail(
                f"MAILER-DAEMON@mx.{domain}",
                "Undelivered Mail Returned to Sender",
                "Your website is down, the message could not be delivered at all.",
            )[0],
        )
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 3)
    # Then three customers about one outage: that is the one incident.
    outage = [
        "Your website is down, nothing loads at all",
        "I can't reach your site, it just times out",
        "Is your service down? The page will not load for me",
    ]
    for i, text in enumerate(outage):
        dovecot.save(user, mail(f"o{i}@customer.test", "Website", text)[0])
    await until(lambda: store.count("SELECT count(*) FROM incident_members") >= 3)
    assert store.rows("SELECT customers FROM incidents") == [(3,)]
    members = (
        "SELECT count(*) FROM incident_members m JOIN conversations c ON c.id = m.conversation_id"
    )
    assert store.count(f"{members} WHERE c.address LIKE 'mailer-daemon@%'") == 0


@pytest.mark.both_backends
async def test_an_email_follow_up_quoting_its_reference_joins_without_a_notice(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    # The acknowledgement path is under test: the bot is silent (tests/kb has its own).
    mailbox.settings = without_bot(mailbox.settings)
    user, store = mailbox.user, mailbox.store
    await mailbox.start()
    dovecot.save(user, mail("cy@customer.test", "Parcel", "My parcel 88 has not arrived.")[0])
    await smtp_server.wait_for(1, timeout=30)
    reference = store.count("SELECT reference FROM conversations")
    # A new mail, no reply headers, only the reference: it joins the ticket, quietly (the
    # customer is writing in the ticket's thread; the agent's answer will come there).
    dovecot.save(user, mail("cy@customer.test", f"Any news? [#{reference}]", "Still waiting.")[0])
    await until(lambda: store.count("SELECT count(*) FROM events WHERE kind='customer_replied'"))
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT count(*) FROM outbox") == 1
