"""The inbound queue seam: connectors put, workers claim, ack, retry."""

from __future__ import annotations

from inbox.config.settings import QueueSettings
from inbox.queue.base import Queue, Sink
from inbox.queue.sqlite import SqliteQueue

__all__ = ["Queue", "Sink", "open_queue"]


async def open_queue(settings: QueueSettings) -> Queue:
    """The configured queue, opened: Redis Streams when ``url`` is set, else the embedded
    SQLite file at ``path``."""
    if settings.url:
        # Only here: the Redis client costs a third of a second and a hundred modules at
        # import, which the embedded default (most installations) never needs.
        from inbox.queue.redis_streams import RedisStreamsQueue

        return await RedisStreamsQueue(settings).open()
    return await SqliteQueue(settings).open()
