"""Server-Sent Events, the one way the web app's pages hear of changes live: the desk and
the dashboard on ``/live``, a form customer's ticket page on ``/ticket/<link>/live``.

A stream is opened, then fed from a queue until a ``None`` ends it; an idle stream gets
a comment line now and then, so proxies keep it open and a closed tab is noticed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

HEARTBEAT_SECONDS = 15.0
T = TypeVar("T")


def event_stream() -> web.StreamResponse:
    """A stream's response, not started yet (``start``)."""
    return web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )


async def start(response: web.StreamResponse, request: web.Request) -> None:
    """Sends the stream's headers and first line; a tab already closed raises
    ConnectionError."""
    await response.prepare(request)
    await response.write(b"retry: 2000\n: connected\n\n")


async def pump(
    response: web.StreamResponse,
    queue: asyncio.Queue[T | None],
    frame: Callable[[T], tuple[str, dict[str, Any]]],
) -> None:
    """Writes each queued item as the event ``frame`` makes of it (its name and data),
    with a heartbeat while idle, until the queue gives ``None``."""
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            await response.write(b": heartbeat\n\n")
            continue
        if item is None:
            return
        kind, data = frame(item)
        await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
