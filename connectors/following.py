"""Answers another web process delivered, passed on to the live pages held here.

With several web processes, the one that sends an answer on a web channel (the chat, the
form's ticket page) may not hold the customer's open connection. Each process reads the
answers delivered on its channel in the last moments (while it holds connections) and
hands each one, once, to its own; a page ignores what it already shows, so an answer
passed on twice appears once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from connectors.base import CustomerTranscripts
from inbox.models import TranscriptEntry

log = logging.getLogger(__name__)
FOLLOW_OVERLAP = 5.0  # seconds each look at the sent answers reaches back again


async def follow_sent(
    transcripts: CustomerTranscripts,
    channel: str,
    stopping: asyncio.Event,
    listening: Callable[[], bool],
    deliver: Callable[[str, TranscriptEntry], Awaitable[None]],
    interval: float = 1.0,
) -> None:
    """Until ``stopping`` is set, calls ``deliver(address, entry)`` once for each answer
    sent on ``channel``, looking once per ``interval`` while ``listening()``."""
    since = time.time()
    passed: dict[int, float] = {}  # message id -> when it was passed on
    while not stopping.is_set():
        now = time.time()
        if listening():
            try:
                sent = await transcripts.sent_since(channel, since - FOLLOW_OVERLAP)
            except Exception:
                log.exception("could not read the %s answers sent by other processes", channel)
                sent = []
            for address, entry in sent:
                if entry.message_id in passed:
                    continue
                passed[entry.message_id] = now
                await deliver(address, entry)
            passed = {k: v for k, v in passed.items() if v > now - 3 * FOLLOW_OVERLAP}
        since = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
