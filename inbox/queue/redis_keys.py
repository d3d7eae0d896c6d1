"""Every Redis key the queue uses, in one place.

All keys of one queue share the hash tag ``{name}``, so on a Redis Cluster they live in
one slot and the queue's scripts, which touch several of them at once, stay atomic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GROUP = "workers"  # the one consumer group: every worker process reads through it


@dataclass(frozen=True)
class RedisKeys:
    """The key names of the queue called ``name`` (``[queue] name``)."""

    name: str

    @property
    def _tag(self) -> str:
        return "{" + self.name + "}"

    @property
    def stream(self) -> str:
        """The inbound stream: an entry per queued message, deleted once acknowledged."""
        return f"{self._tag}:inbound"

    @property
    def dead(self) -> str:
        """The dead-letter stream: messages given up on, with the reason."""
        return f"{self._tag}:dead"

    @property
    def reasons(self) -> str:
        """Hash: entry id -> why its last try failed (kept for the dead letter)."""
        return f"{self._tag}:reasons"

    @property
    def cursors(self) -> str:
        """Hash: connector source -> its cursor (an IMAP UID, a Telegram offset)."""
        return f"{self._tag}:cursors"

    @property
    def reference(self) -> str:
        """Counter: the last ticket reference handed out."""
        return f"{self._tag}:reference"

    @property
    def acked(self) -> str:
        """Counter: entries acknowledged, ever (each entry counts once)."""
        return f"{self._tag}:acked"

    def seen(self, channel: str, external_id: str) -> str:
        """String: the reference given to ``(channel, external_id)``, so a message put
        twice is queued once. External ids can be long (mail Message-IDs): hashed."""
        digest = hashlib.sha256(f"{channel}\0{external_id}".encode()).hexdigest()[:32]
        return f"{self._tag}:seen:{digest}"
