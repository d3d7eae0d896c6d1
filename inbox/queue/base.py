"""Protocols for the inbound queue.

Delivery is at-least-once: a claimed item whose worker dies comes back after the
visibility timeout (at once, when that worker was a process on the claiming host, or the
claiming process's previous life: see ``abandoned``); an item that keeps failing goes to
the dead-letter list with its reason. Every consumer must therefore be idempotent on
``(channel, external_id)``.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from inbox.errors import InvalidMessage
from inbox.models import DeadLetter, Envelope, QueueItem, Receipt
from inbox.text import valid_unicode

FIRST_REFERENCE = 1001  # the first ticket number a new queue hands out
DEDUP_SECONDS = 7 * 86400  # how long a message put again is still known as a duplicate
PROCESS_STARTED = time.time()  # near enough: the queue is imported as the process starts
_CONSUMER = re.compile(r"(?P<host>[^:]+):(?P<pid>\d+)(?::\d+)?")


@dataclass(frozen=True)
class QueueRecord:
    """An envelope as the queue stores it: its identity and its JSON, in valid Unicode."""

    channel: str
    external_id: str
    payload: str


def queue_record(envelope: Envelope) -> QueueRecord:
    """What the queue stores for ``envelope``.

    A lone surrogate (a connector's field that skipped text cleaning) becomes U+FFFD: no
    store takes it, and refusing it would hold up the other messages of its batch.
    """
    try:
        payload = envelope.to_json()
    except (TypeError, ValueError) as err:  # a field of the wrong type: a connector's bug
        raise InvalidMessage(
            f"{envelope.channel} message {envelope.external_id!r} cannot be queued: {err}"
        ) from err
    return QueueRecord(
        valid_unicode(envelope.channel),
        valid_unicode(envelope.external_id),
        valid_unicode(payload),
    )


def consumer_name(suffix: str = "") -> str:
    """A name unique to this process (and worker loop) for queue leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}{suffix}"


def abandoned(consumer: str, last_active: float) -> bool:
    """Whether ``consumer``, last active at ``last_active`` (epoch seconds), was a process
    on this host that is gone, or this process's previous life (a restarted container
    gets its pid again): what it claimed is nobody's now.

    A consumer on another host, or named otherwise than ``host:pid``, may be alive: its
    claims wait for their lease to run out.
    """
    found = _CONSUMER.fullmatch(consumer)
    if found is None or found["host"] != socket.gethostname():
        return False
    pid = int(found["pid"])
    if pid == os.getpid():
        return last_active < PROCESS_STARTED
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


class Sink(Protocol):
    """Where connectors hand over what they received."""

    async def put(
        self, envelopes: Sequence[Envelope], cursor: tuple[str, str] | None = None
    ) -> list[Receipt]:
        """Stores the envelopes durably, and the source cursor with them, then returns.

        Putting an envelope whose ``(channel, external_id)`` was put in the last
        ``DEDUP_SECONDS`` is a no-op that returns the first receipt again
        (``duplicate=True``), same reference included.
        """
        ...

    async def cursor(self, source: str) -> str | None:
        """The last cursor stored for ``source`` (an IMAP UID, a Telegram offset)."""
        ...


class Queue(Sink, Protocol):
    """The worker's side of the queue."""

    async def claim(self, consumer: str, max_items: int, block: float) -> list[QueueItem]:
        """Claims up to ``max_items`` ready items, waiting up to ``block`` seconds for one."""
        ...

    async def ack(self, item_ids: Sequence[str]) -> None:
        """Marks items done: they are never delivered again."""
        ...

    async def retry(self, item_id: str, reason: str) -> bool:
        """Backs the item off for a later try; returns False if it was dead-lettered."""
        ...

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Items given up on, newest first, with their reasons."""
        ...

    async def requeue_dead(self, item_id: str) -> bool:
        """Puts a dead letter back in the queue for a fresh set of tries (after the cause
        was fixed); False if there is no such dead letter."""
        ...

    async def dead_count(self) -> int:
        """How many items were dead-lettered (and are kept)."""
        ...

    async def in_flight(self) -> int:
        """How many items a worker holds and has not acknowledged yet."""
        ...

    async def pending(self) -> int:
        """How many items are waiting or being worked on."""
        ...

    async def reserve_references_above(self, floor: int) -> None:
        """Makes sure every reference handed out from now on is above ``floor``."""
        ...

    async def close(self) -> None:
        """Releases the queue's resources."""
        ...
