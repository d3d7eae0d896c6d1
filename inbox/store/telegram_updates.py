"""The Telegram update ids the store holds, by bot: for the gap check
(``inbox.reconcile.telegram``)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.reconcile.telegram import update_id
from inbox.store.tables import bot_commands, messages, quarantine


async def stored_update_ids(conn: AsyncConnection, channel: str) -> dict[str, set[int]]:
    """``{bot id: update ids}`` of ``channel``'s messages, commands and quarantine entries.
    A button press is known by its callback id; its update id is in its meta, and counts
    for the bots the other rows name."""
    found: dict[str, set[int]] = defaultdict(set)
    presses: set[int] = set()
    rows = await conn.execute(
        select(messages.c.external_id, messages.c.meta).where(
            messages.c.channel == channel, messages.c.direction == "in"
        )
    )
    for external_id, meta in rows:
        parsed = update_id(external_id)
        if parsed is not None:
            found[parsed[0]].add(parsed[1])
            continue
        value = str((meta or {}).get("update_id", ""))
        if value.isdigit():
            presses.add(int(value))
    for table in (bot_commands, quarantine):
        for (external_id,) in await conn.execute(
            select(table.c.external_id).where(table.c.channel == channel)
        ):
            parsed = update_id(external_id)
            if parsed is not None:
                found[parsed[0]].add(parsed[1])
    for ids in found.values():
        ids |= presses
    return dict(found)
