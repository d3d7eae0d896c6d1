"""The mailbox UIDs behind stored mail: noted with each message as the worker stores it,
read back for the mailbox reconciliation (``inbox.reconcile.mailbox``).

A mail is fetched under one UID, becomes one envelope in the queue, and then a message or
a quarantine entry in the store. The row written here, in the same transaction as that
message, ties the last step to the first: a UID with a row whose message is gone was
lost by the store; a UID without one never reached it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.message_ids import thread_key
from inbox.models import Envelope
from inbox.reconcile.mailbox import FetchedUid
from inbox.store.engine import now
from inbox.store.tables import mail_uids, messages, quarantine


def mail_uid(envelope: Envelope) -> tuple[str, int, int] | None:
    """``(folder, uidvalidity, uid)`` an envelope was fetched under, if it was."""
    meta = envelope.meta
    validity, _, uid = meta.imap_uid.partition(":")
    if not (validity.isdigit() and uid.isdigit()):
        return None
    return meta.imap_folder, int(validity), int(uid)


async def record_fetched(conn: AsyncConnection, envelopes: Iterable[Envelope]) -> None:
    """Notes the UID of each fetched mail among ``envelopes`` (once: a redelivery is left
    alone). Runs in the transaction that stores them."""
    rows: dict[tuple[str, str, int, int], str] = {}
    for env in envelopes:
        found = mail_uid(env)
        if found is not None:
            rows.setdefault((env.channel, *found), env.external_id)
    if not rows:
        return
    m = mail_uids.c
    known = {
        (r.channel, r.folder, int(r.uidvalidity), int(r.uid))
        for r in await conn.execute(
            select(m.channel, m.folder, m.uidvalidity, m.uid).where(
                m.channel.in_({k[0] for k in rows}), m.uid.in_({k[3] for k in rows})
            )
        )
    }
    stamp = now()
    fresh = [
        {
            "channel": channel,
            "folder": folder,
            "uidvalidity": validity,
            "uid": uid,
            "external_id": external_id,
            "created_at": stamp,
        }
        for (channel, folder, validity, uid), external_id in rows.items()
        if (channel, folder, validity, uid) not in known
    ]
    if fresh:
        await conn.execute(insert(mail_uids), fresh)


async def read_records(conn: AsyncConnection, channel: str) -> list[FetchedUid]:
    """Every UID noted for ``channel``, each with what the store still holds for it."""
    m = mail_uids.c
    rows = await conn.execute(
        select(m.folder, m.uidvalidity, m.uid, m.external_id, messages.c.id, quarantine.c.id)
        .outerjoin(
            messages,
            and_(messages.c.channel == m.channel, messages.c.external_id == m.external_id),
        )
        .outerjoin(
            quarantine,
            and_(quarantine.c.channel == m.channel, quarantine.c.external_id == m.external_id),
        )
        .where(m.channel == channel)
    )
    return [
        FetchedUid(
            r[0],
            int(r[1]),
            int(r[2]),
            r[3],
            "message" if r[4] is not None else ("quarantine" if r[5] is not None else ""),
        )
        for r in rows
    ]


async def stored_message_ids(
    conn: AsyncConnection, channel: str, message_ids: Sequence[str]
) -> set[str]:
    """Which of these Message-IDs a customer's message of ``channel`` was stored under."""
    keys = {thread_key(mid): mid for mid in message_ids if mid}
    if not keys:
        return set()
    rows = await conn.execute(
        select(messages.c.thread_key).where(
            messages.c.channel == channel,
            messages.c.direction == "in",
            messages.c.thread_key.in_(list(keys)),
        )
    )
    return {keys[r[0]] for r in rows}
