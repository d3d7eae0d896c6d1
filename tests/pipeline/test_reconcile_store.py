"""What the source reconciliation reads from the store, on both back-ends: the UIDs noted
with stored mail (and what became of it), and the Telegram update ids stored by bot."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import delete

from inbox.config.settings import Settings
from inbox.models import Envelope, MessageMeta
from inbox.reconcile.telegram import compare_updates
from inbox.store.mail_uids import read_records, record_fetched, stored_message_ids
from inbox.store.tables import messages
from inbox.store.telegram_updates import stored_update_ids
from tests.support.tickets import ingest_tickets, migrated_engine

pytestmark = pytest.mark.both_backends


def _mail(n: int, uid: str) -> Envelope:
    meta = MessageMeta(message_id=f"<m{n}@x>", imap_folder="INBOX", imap_uid=uid)
    return Envelope(
        "email", f"mail:{n}", "email", f"c{n}@x.test", f"Help {n}", time.time(), meta=meta
    )


def _update(n: int, **meta: str) -> Envelope:
    env = Envelope("telegram", f"update:42:{n}", "telegram", "99", f"Hi {n}", time.time())
    return replace(env, meta=MessageMeta(chat_id="99", update_id=str(n), **meta))


async def test_noted_uids_say_what_the_store_still_holds(settings: Settings) -> None:
    engine = await migrated_engine(settings)
    try:
        mails = [_mail(1, "7:1"), _mail(2, "7:2"), _mail(3, "no uid")]
        async with engine.begin() as conn:
            await record_fetched(conn, mails)
            await record_fetched(conn, mails[:1])  # a redelivery notes nothing twice
            await ingest_tickets(conn, settings, mails, first_reference=5000)
        async with engine.begin() as conn:
            await conn.execute(delete(messages).where(messages.c.external_id == "mail:2"))
        async with engine.connect() as conn:
            records = sorted(await read_records(conn, "email"), key=lambda r: r.uid)
            known = await stored_message_ids(conn, "email", ["<m1@x>", "<m2@x>", "<zz@x>"])
        assert [(r.validity, r.uid, r.external_id, r.held) for r in records] == [
            (7, 1, "mail:1", "message"),
            (7, 2, "mail:2", ""),
        ]
        assert known == {"<m1@x>"}
    finally:
        await engine.dispose()


async def test_telegram_update_ids_by_bot(settings: Settings) -> None:
    engine = await migrated_engine(settings)
    try:
        press = replace(_update(13), external_id="callback:abc")
        async with engine.begin() as conn:
            await ingest_tickets(
                conn, settings, [_update(10), _update(11), press], first_reference=6000
            )
        async with engine.connect() as conn:
            found = await stored_update_ids(conn, "telegram")
        assert found == {"42": {10, 11, 13}}
        check = compare_updates("telegram", "42", found["42"], set(), cursor=15)
        assert (check.unaccounted, check.gaps) == (3, ((12, 12), (14, 15)))
    finally:
        await engine.dispose()
