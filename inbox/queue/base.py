"""Protocols for the inbound queue.

Delivery is at-least-once: a claimed item whose worker dies comes back after the
visibility timeout; an item that keeps failing goes to the dead-letter list with its
reason. Every consumer must therefore be idempotent on ``(channel, external_id)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from inbox.models import DeadLetter, Envelope, QueueItem, Receipt

FIRST_REFERENCE = 1001  # the first ticket number a new queue hands out


class Sink(Protocol):
    """Where connectors hand over what they received."""

    async def put(
        self, envelopes: Sequence[Envelope], cursor: tuple[str, str] | None = None
    ) -> list[Receipt]:
        """Stores the envelopes durably, and the source cursor with them, then returns.

        Putting an envelope whose ``(channel, external_id)`` is already queued is a no-op
        that returns the first receipt again (``duplicate=True``), same reference included.
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
