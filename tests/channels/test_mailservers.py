"""The mail-server harness works for real: IMAP against Dovecot, SMTP against aiosmtpd."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aioimaplib
import aiosmtplib
import pytest

from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer

# The `dovecot` and `smtp_server` fixtures come from conftest.py's
# `pytest_plugins = ["tests.support.mailservers"]`: one Dovecot for the whole run.

RAW = (
    b"From: Customer <customer@example.com>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_order?=\r\n"
    b"Message-ID: <harness-1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Where is my caf\xc3\xa9 order? (unbalanced paren\r\n"
    b".a line starting with a dot\r\n"
)


def mail(subject: str) -> bytes:
    return f"From: c@example.com\r\nTo: s@example.com\r\nSubject: {subject}\r\n\r\nhi\r\n".encode()


async def connect(dovecot: Dovecot) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    return client


async def disconnect(client: aioimaplib.IMAP4) -> None:
    """LOGOUT, then close the socket: aioimaplib leaves that to the server's hang-up, which
    can come after the test's event loop is gone (a ResourceWarning, an error here)."""
    try:
        await client.logout()
    finally:
        client.protocol.transport.close()


@pytest.fixture
async def imap(dovecot: Dovecot) -> AsyncIterator[tuple[aioimaplib.IMAP4, str]]:
    """A fresh user, and an aioimaplib client logged in as that user."""
    user, password = dovecot.new_user()
    client = await connect(dovecot)
    try:
        response = await client.login(user, password)
        assert response.result == "OK", response
        yield client, user
    finally:
        await disconnect(client)


def uidvalidity_of(select: aioimaplib.Response) -> int:
    for line in select.lines:
        found = re.match(rb"OK \[UIDVALIDITY (\d+)\]", bytes(line))
        if found:
            return int(found.group(1))
    raise AssertionError(f"no UIDVALIDITY in {select.lines}")


async def test_saved_mail_arrives_with_its_bytes_intact(
    dovecot: Dovecot, imap: tuple[aioimaplib.IMAP4, str]
) -> None:
    client, user = imap
    dovecot.save(user, RAW)
    assert (await client.select("INBOX")).result == "OK"
    search = await client.uid_search("ALL")
    assert search.result == "OK" and search.lines[0] == b"1"

    fetch = await client.uid("fetch", "1", "(UID BODY.PEEK[])")

    assert fetch.result == "OK"
    head, literal, close = fetch.lines[:3]
    assert isinstance(head, bytes) and head.startswith(b"1 FETCH (UID 1 BODY[] {")
    assert isinstance(literal, bytearray) and bytes(literal) == RAW
    assert close == b")"
    assert dovecot.count(user) == 1


async def test_wrong_password_is_refused(dovecot: Dovecot) -> None:
    user, _password = dovecot.new_user()
    client = await connect(dovecot)
    try:
        assert (await client.login(user, "wrong")).result == "NO"
    finally:
        await disconnect(client)


async def test_save_creates_folders_and_save_many_keeps_order(
    dovecot: Dovecot, imap: tuple[aioimaplib.IMAP4, str]
) -> None:
    client, user = imap
    dovecot.save(user, mail("in a folder"), folder="Support")
    assert dovecot.count(user, "Support") == 1
    assert dovecot.save_many(user, [mail(f"bulk {i}") for i in range(500)], "Bulk") == 500
    assert dovecot.save_many(user, [mail("first"), mail("second")]) == 2
    assert dovecot.count(user, "Bulk") == 500
    assert dovecot.count(user) == 2

    assert (await client.select("Bulk")).result == "OK"
    subjects: list[bytes] = []
    for first in range(1, 501, 100):  # aioimaplib 2.0.3 recurses per response line: batch
        fetch = await client.uid(
            "fetch", f"{first}:{first + 99}", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
        )
        subjects += [bytes(line).strip() for line in fetch.lines if isinstance(line, bytearray)]
    assert subjects == [f"Subject: bulk {i}".encode() for i in range(500)]


async def test_set_uidvalidity_changes_what_select_reports(
    dovecot: Dovecot, imap: tuple[aioimaplib.IMAP4, str]
) -> None:
    client, user = imap
    dovecot.save(user, mail("one"))
    before = dovecot.uidvalidity(user, "INBOX")
    assert uidvalidity_of(await client.select("INBOX")) == before
    assert (await client.close()).result == "OK"

    dovecot.set_uidvalidity(user, "INBOX", before + 1000)

    assert dovecot.uidvalidity(user, "INBOX") == before + 1000
    assert uidvalidity_of(await client.select("INBOX")) == before + 1000


async def test_idle_is_offered_and_pushes_new_mail(
    dovecot: Dovecot, imap: tuple[aioimaplib.IMAP4, str]
) -> None:
    client, user = imap
    assert client.has_capability("IDLE")
    assert (await client.select("INBOX")).result == "OK"
    idle = await client.idle_start(timeout=10)

    await asyncio.to_thread(dovecot.save, user, mail("pushed"))
    pushed = await client.wait_server_push(timeout=10)

    assert b"1 EXISTS" in pushed
    client.idle_done()
    assert (await asyncio.wait_for(idle, 10)).result == "OK"


async def send(server: SmtpServer, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "support@example.com"
    message["To"] = "customer@example.com"
    message["Subject"] = subject
    message.set_content("Your café order ships today.\n")
    await aiosmtplib.send(message, hostname=server.host, port=server.port, timeout=10)


async def test_smtp_server_records_what_it_accepts(smtp_server: SmtpServer) -> None:
    await send(smtp_server, "Re: Café order")

    [got] = await smtp_server.wait_for(1)

    assert got.mail_from == "support@example.com"
    assert got.rcpt_tos == ["customer@example.com"]
    assert got.message["Subject"] == "Re: Café order"
    assert got.message.get_content().splitlines() == ["Your café order ships today."]
    assert b"\r\n\r\n" in got.data
    assert smtp_server.received == [got]


async def test_fail_next_answers_with_a_temporary_failure(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(2)
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPResponseException) as failed:
            await send(smtp_server, "try later")
        assert failed.value.code == 451
        assert "Try again later" in failed.value.message
    await send(smtp_server, "now it works")
    assert [m.message["Subject"] for m in await smtp_server.wait_for(1)] == ["now it works"]


async def test_reject_next_answers_with_a_permanent_failure(smtp_server: SmtpServer) -> None:
    smtp_server.reject_next(code=554, text="5.7.1 No thanks")
    with pytest.raises(aiosmtplib.SMTPResponseException) as rejected:
        await send(smtp_server, "rejected")
    assert rejected.value.code == 554
    assert smtp_server.received == []


async def test_drop_after_data_loses_the_connection(smtp_server: SmtpServer) -> None:
    smtp_server.drop_after_data_next()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await send(smtp_server, "lost reply")
    [dropped] = await smtp_server.wait_for_dropped(1)
    assert dropped.message["Subject"] == "lost reply"
    assert smtp_server.received == []

    await send(smtp_server, "after the drop")
    assert [m.message["Subject"] for m in await smtp_server.wait_for(1)] == ["after the drop"]
