"""The inbound queue seam: connectors put, workers claim, ack, retry."""

from __future__ import annotations

from inbox.config.settings import QueueSettings
from inbox.queue.base import Queue, Sink

__all__ = ["Queue", "Sink", "open_queue"]


async def open_queue(settings: QueueSettings) -> Queue:
    """The configured queue, opened: Redis Streams when ``url`` is set, else the embedded
    SQLite file at ``path``."""
    if settings.url:
        from inbox.queue.redis_streams import RedisStreamsQueue

        return await RedisStreamsQueue(settings).open()
    from inbox.queue.sqlite import SqliteQueue

    return await SqliteQueue(settings).open()
