"""``inbox ledger --check`` against a real mailbox (Dovecot): the folder's UIDs against the
UIDs the store noted with each mail (issue 19, reconciliation with the sources)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connectors.mail.imap import cursor_source, parse_cursor
from inbox import tomlwrite
from inbox.config.settings import Settings, parse_settings
from inbox.queue import open_queue
from inbox.reconcile.mailbox import LOST, NOT_STORED
from inbox.service.app import InboxService
from inbox.store.engine import create_engine
from tests.support.cli import run_inbox
from tests.support.config import without_bot
from tests.support.loopback import free_port
from tests.support.mailbox import email_config, mail
from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def _remove_message(settings: Settings, message_id: str) -> None:
    """Deletes a customer's stored mail by hand, as an operator's mistake would."""
    engine = create_engine(settings.store.url)
    try:
        async with engine.begin() as conn:
            found = await conn.execute(
                text(
                    "SELECT id FROM messages WHERE direction = 'in' AND CAST(meta AS TEXT) LIKE :pattern"
                ),
                {"pattern": f"%{message_id}%"},
            )
            (row_id,) = found.one()
            for table in ("attachments", "message_vectors"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE message_id = :id"), {"id": row_id}
                )
            await conn.execute(text("DELETE FROM messages WHERE id = :id"), {"id": row_id})
    finally:
        await engine.dispose()


def _check(config: Path) -> tuple[int, dict[str, Any]]:
    done = run_inbox("ledger", "--check", "--json", config=config)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


async def test_fetched_mail_reconciles_a_removed_one_is_missing_and_new_mail_waits(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    config = tmp_path / "config.toml"
    config.write_text(tomlwrite.dumps(raw))
    settings = without_bot(parse_settings(raw, tmp_path))
    store = store_of(settings)
    sent = [
        mail(f"c{i}@customer.test", f"Order {i}", f"Parcel {i} has not arrived yet.")
        for i in range(3)
    ]
    for raw_mail, _ in sent:
        dovecot.save(user, raw_mail)
    # Mail that gets no answer on purpose is accounted for too: an auto-reply is stored,
    # a mail without a sender is kept in quarantine.
    auto_reply = mail("bot@customer.test", "Out of office", "Back on Monday.")[0]
    dovecot.save(user, auto_reply.replace(b"Subject:", b"Auto-Submitted: auto-replied\nSubject:"))
    dovecot.save(user, b"Subject: who sent this?\r\nMessage-ID: <nofrom@x>\r\n\r\nNo From.\r\n")
    service = await service_factory(settings)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 4)
    await until(lambda: store.count("SELECT count(*) FROM quarantine") == 1)
    await until(lambda: store.count("SELECT count(*) FROM mail_uids") == 5)
    await smtp_server.wait_for(3, timeout=60)
    await service.stop()
    # Arrives while the connector is away: above the watermark, not fetched yet.
    late, late_id = mail("late@customer.test", "One more", "And this one?")
    dovecot.save(user, late)

    status, report = await asyncio.to_thread(_check, config)
    assert status == 0, report["sources"]
    (box,) = report["sources"]["mailboxes"]
    assert (box["in_source"], box["stored"], box["quarantined"], box["waiting"]) == (6, 4, 1, 1)
    assert box["missing"] == [] and report["sources"]["missing"] == []
    assert box["dead"] == box["queued"] == box["by_message_id"] == 0

    removed_uid = store.count(
        "SELECT uid FROM mail_uids WHERE external_id = (SELECT external_id FROM messages "
        "WHERE direction='in' AND subject = 'Order 1')"
    )
    await _remove_message(settings, sent[1][1])
    status, report = await asyncio.to_thread(_check, config)
    assert status == 1
    (missing,) = report["sources"]["missing"]
    assert missing["uid"] == removed_uid and missing["why"] == LOST
    assert missing["message_id"] == sent[1][1] and missing["subject"] == "Order 1"
    (box,) = report["sources"]["mailboxes"]
    assert (box["stored"], box["quarantined"], box["waiting"]) == (3, 1, 1)
    text_out = run_inbox("ledger", "--check", config=config)
    assert text_out.returncode == 1
    assert f"UID {removed_uid}: {LOST}" in text_out.stdout and sent[1][1] in text_out.stdout
    assert "1 missing, 1 waiting" in text_out.stdout
    assert late_id not in text_out.stdout

    # The watermark moved past the late mail without it (a connector's bug, say): it is
    # below the watermark, in neither the store, the quarantine nor the dead letters.
    box_settings = settings.email[0]
    source = cursor_source(box_settings)
    queue = await open_queue(settings.queue)
    try:
        validity, _last = parse_cursor(await queue.cursor(source)) or (0, 0)
        await queue.put([], cursor=(source, f"{validity}:1000000"))
    finally:
        await queue.close()
    status, report = await asyncio.to_thread(_check, config)
    assert status == 1
    found = {m["why"]: m for m in report["sources"]["missing"]}
    assert set(found) == {LOST, NOT_STORED}
    assert (found[NOT_STORED]["message_id"], found[NOT_STORED]["subject"]) == (late_id, "One more")
    (box,) = report["sources"]["mailboxes"]
    assert box["waiting"] == 0 and len(box["missing"]) == 2
    # Reading the headers left the mail unread: only BODY.PEEK ran.
    assert "\\Seen" not in dovecot.doveadm("fetch", "-u", user, "flags", "mailbox", "INBOX")


def test_a_mailbox_that_cannot_be_read_fails_the_check(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, _user = email_config(
        tmp_path, dovecot, smtp_server, monkeypatch, imap_port=free_port(), timeout=2
    )
    config = tmp_path / "config.toml"
    config.write_text(tomlwrite.dumps(raw))
    status, report = _check(config)
    assert status == 1 and report["unanswered"] == []
    (unreadable,) = report["sources"]["unreadable"]
    assert unreadable["source"].startswith("email (127.0.0.1/INBOX)")
