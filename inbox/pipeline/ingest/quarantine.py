"""Messages that cannot become tickets (unparseable mail, spam): kept for an operator."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.models import Envelope
from inbox.pipeline.ingest.plan import IngestPlan, IngestResult
from inbox.pipeline.ingest.write import attachment_row
from inbox.store.bulk import insert_keyed, pairs_in
from inbox.store.engine import now
from inbox.store.tables import attachments, quarantine


async def keep_in_quarantine(
    conn: AsyncConnection, plans: list[IngestPlan]
) -> dict[int, IngestResult]:
    """Keeps messages that cannot become tickets, once each, with their files and reason;
    returns each plan's result by ``id(plan)``."""
    keys = list({(p.envelope.channel, p.envelope.external_id) for p in plans})
    known = {
        (row[0], row[1]): int(row[2])
        for row in await conn.execute(
            select(quarantine.c.channel, quarantine.c.external_id, quarantine.c.id).where(
                pairs_in(quarantine.c.channel, quarantine.c.external_id, keys)
            )
        )
    }
    stamp = now()
    fresh: dict[tuple[str, str], Envelope] = {}
    for p in plans:
        key = (p.envelope.channel, p.envelope.external_id)
        if key not in known:
            fresh.setdefault(key, p.envelope)
    if fresh:
        ids = await insert_keyed(
            conn,
            quarantine,
            [
                {
                    "channel": e.channel,
                    "external_id": e.external_id,
                    "reason": e.quarantine,
                    "sender": e.address[:320],
                    "subject": e.subject[:300],
                    "received_at": e.received_at,
                    "created_at": stamp,
                    "text": e.text,
                }
                for e in fresh.values()
            ],
            ("channel", "external_id"),
        )
        known.update(zip(fresh, ids, strict=True))
        files = [
            {"message_id": None, "quarantine_id": known[key], **attachment_row(a, stamp)}
            for key, e in fresh.items()
            for a in e.attachments
        ]
        if files:
            await conn.execute(insert(attachments), files)
    return {
        id(p): IngestResult("quarantined", 0, known[(p.envelope.channel, p.envelope.external_id)])
        for p in plans
    }
