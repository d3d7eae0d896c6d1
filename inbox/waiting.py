"""Idle waits of the background loops: until woken, stopped, or a timeout passes."""

from __future__ import annotations

import asyncio
import contextlib


async def nap(wake: asyncio.Event, stopping: asyncio.Event, seconds: float) -> None:
    """Returns when ``wake`` or ``stopping`` is set, or after ``seconds``; then
    clears ``wake`` so the next nap waits for the next wake-up."""
    woken = asyncio.ensure_future(wake.wait())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({woken, stop}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (woken, stop):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    wake.clear()
