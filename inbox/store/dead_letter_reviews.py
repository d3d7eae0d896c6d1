"""Dead letters an operator looked at and found no customer's contact in (a payload no
program can read, a test message): recorded here, so the answer ledger stops counting them
as unanswered. The letter itself stays in the queue's dead-letter list."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict
from inbox.store.engine import now
from inbox.store.quarantine_review import reviewer
from inbox.store.tables import dead_letter_reviews

log = logging.getLogger(__name__)
DISMISSED = "dismissed"


async def dismiss_dead_letter(engine: AsyncEngine, item_id: str, by: str, note: str) -> None:
    """Records that ``by`` looked at dead letter ``item_id`` and found nothing to answer."""
    by = reviewer(by)
    async with engine.begin() as conn:
        found = await conn.scalar(
            select(dead_letter_reviews.c.reviewed_by).where(
                dead_letter_reviews.c.item_id == item_id
            )
        )
        if found is not None:
            raise Conflict(f"dead letter {item_id} was dismissed already, by {found}")
        await conn.execute(
            insert(dead_letter_reviews).values(
                item_id=item_id, review=DISMISSED, reviewed_by=by, reviewed_at=now(), note=note
            )
        )
    log.info("%s dismissed dead letter %s: %s", by, item_id, note)


async def dead_letter_notes(conn: AsyncConnection, item_ids: Sequence[str]) -> dict[str, str]:
    """The reviews of these dead letters: item id -> "dismissed by NAME: note"."""
    if not item_ids:
        return {}
    r = dead_letter_reviews.c
    rows = (
        await conn.execute(
            select(r.item_id, r.review, r.reviewed_by, r.note).where(r.item_id.in_(item_ids))
        )
    ).all()
    return {row.item_id: f"{row.review} by {row.reviewed_by}: {row.note}" for row in rows}
