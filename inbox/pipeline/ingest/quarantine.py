"""Messages that cannot become tickets (unparseable mail, spam): kept for an operator."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.models import Envelope
from inbox.pipeline.ingest.plan import IngestPlan, IngestResult
from inbox.pipeline.ingest.write import attachment_row
from inbox.store.bulk import insert_keyed, pairs_in
from inbox.store.engine import now
from inbox.store.tables import attachments, events, quarantine


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


async def note_released(
    conn: AsyncConnection, plans: list[IngestPlan], results: list[IngestResult]
) -> None:
    """Notes on each released quarantine entry the ticket its message became, and on that
    ticket who released it (in the same transaction as the message)."""
    released = [
        (p.envelope.released, r) for p, r in zip(plans, results, strict=True) if p.envelope.released
    ]
    if not released:
        return
    stamp = now()
    for entry_id, result in released:
        await conn.execute(
            update(quarantine)
            .where(quarantine.c.id == entry_id)
            .values(released_reference=result.reference)
        )
        if result.outcome == "already_stored":
            continue  # noted when it was stored
        row = (
            await conn.execute(
                select(quarantine.c.reason, quarantine.c.reviewed_by).where(
                    quarantine.c.id == entry_id
                )
            )
        ).first()
        await conn.execute(
            insert(events).values(
                conversation_id=result.conversation_id,
                kind="released",
                actor=((row.reviewed_by if row is not None else None) or "operator")[:100],
                data={
                    "quarantine_id": entry_id,
                    "reason": row.reason if row is not None else "",
                },
                created_at=stamp,
            )
        )
