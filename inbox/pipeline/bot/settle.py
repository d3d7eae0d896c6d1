"""Conversations the bot answered and the customer never came back to: resolved by the
bot once ``[kb] settle_hours`` pass (silence counts as "it helped"), quietly — no
message a day later. The customer's next message opens a new conversation."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.bot_words import BotState
from inbox.pipeline.bot.moves import BotTools, resolve
from inbox.store.bot_rows import held
from inbox.store.engine import now
from inbox.store.locks import serialize
from inbox.store.tables import conversations

log = logging.getLogger(__name__)
INTERVAL = 60.0  # seconds between looks
NO_REPLY = "no reply from the customer after the bot's answer"


async def settle(engine: AsyncEngine, tools: BotTools, at: float | None = None) -> list[int]:
    """Resolves the conversations the bot has held without a word for too long; returns
    their ids."""
    at = now() if at is None else at
    before = at - tools.settings.kb.settle_hours * 3600
    async with engine.begin() as conn:
        # The ingest's lock: a reply being stored right now is read first.
        await serialize(conn, "ingest")
        quiet = (
            await conn.scalars(
                select(conversations.c.id).where(
                    conversations.c.bot_state == BotState.HOLDING.value,
                    conversations.c.updated_at < before,
                )
            )
        ).all()
        found = await held(conn, [int(i) for i in quiet])
        for conv in found.values():
            await resolve(conn, conv, NO_REPLY, tools, at)
    if found:
        log.info("bot: %d quiet conversation(s) resolved", len(found))
    return sorted(found)


async def run_settler(engine: AsyncEngine, tools: BotTools, stopping: asyncio.Event) -> None:
    """Settles every ``INTERVAL`` seconds until ``stopping`` is set."""
    while not stopping.is_set():
        try:
            await settle(engine, tools)
        except Exception:
            log.exception("settling the bot's quiet conversations failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), INTERVAL)
