"""A worker process that claims and then hangs until killed, for the restart tests.

``python -m tests.support.queue_holder URL NAME PATH COUNT`` opens the queue (Redis when
URL is set, else the SQLite file at PATH), claims up to COUNT items as this process's
worker would, prints their ids as one JSON line, and waits for its stdin to close.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from inbox.config.settings import QueueSettings
from inbox.queue import open_queue
from inbox.queue.base import consumer_name


async def hold(settings: QueueSettings, count: int) -> None:
    """Claims ``count`` items and never acknowledges them."""
    queue = await open_queue(settings)
    items = await queue.claim(consumer_name(":0"), count, block=5)
    print(json.dumps([item.item_id for item in items]), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await queue.close()


if __name__ == "__main__":
    url, name, path, count = sys.argv[1:5]
    settings = QueueSettings(url=url, name=name, path=Path(path), visibility_timeout=600)
    asyncio.run(hold(settings, int(count)))
