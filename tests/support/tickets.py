"""New tickets written straight through the ingest transaction, for tests of what follows
them (the outbox, the senders)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.config.settings import Settings
from inbox.models import Envelope, Priority, TriageDecision
from inbox.pipeline.ingest.batch import IngestPlan, ingest_batch
from inbox.store.engine import create_engine, migrate
from inbox.store.tables import conversations, messages


async def migrated_engine(settings: Settings) -> AsyncEngine:
    """An engine on the settings' store, migrated to the newest schema."""
    engine = create_engine(settings.store.url)
    await migrate(engine)
    return engine


def first_mails(box: str, addresses: Sequence[str]) -> list[Envelope]:
    """A customer's first mail ("Hello") from each address, to the mailbox ``box``."""
    return [
        Envelope(box, f"<m{i}@customer.test>", "email", address, "Hello", time.time())
        for i, address in enumerate(addresses)
    ]


async def ingest_tickets(
    conn: AsyncConnection,
    settings: Settings,
    envelopes: Sequence[Envelope],
    *,
    first_reference: int,
) -> None:
    """One new ticket per envelope (normal priority, no routing, the standard SLA policy),
    their references counting up from ``first_reference``; each gets its acknowledgement
    queued in the outbox."""
    plans = [
        IngestPlan(
            envelope=envelope,
            reference=first_reference + i,
            routing=None,
            triage=TriageDecision(Priority.NORMAL, ()),
        )
        for i, envelope in enumerate(envelopes)
    ]
    await ingest_batch(conn, plans, settings, lambda _env: "standard")


async def customer_writes(
    engine: AsyncEngine, reference: int, words: str, *, subject: str = "", external_id: str
) -> None:
    """A customer message added straight to the conversation ``reference`` (as a later
    message of theirs is stored), for tests of what reads messages."""
    async with engine.begin() as conn:
        conversation_id = await conn.scalar(
            select(conversations.c.id).where(conversations.c.reference == reference)
        )
        await conn.execute(
            insert(messages).values(
                conversation_id=conversation_id,
                direction="in",
                channel="scripted",
                external_id=external_id,
                author="customer",
                internal=False,
                subject=subject,
                text=words,
                created_at=time.time(),
            )
        )
