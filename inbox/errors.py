"""The project's one error tree.

Connectors translate third-party failures into these at their edge (``raise ... from err``);
the worker and the outbox sender alone decide whether to retry, wait or give up.
"""

from __future__ import annotations


class InboxError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(InboxError):
    """The configuration is wrong; the message names the key."""


class DeliveryError(InboxError):
    """Sending or receiving on a channel failed.

    ``parts_sent`` counts the parts of a long answer delivered before the failure: the
    next try starts after them, so no part reaches the customer twice.
    """

    parts_sent: int = 0

    def after_parts(self, parts_sent: int) -> DeliveryError:
        """This error, noting that ``parts_sent`` parts went out before it."""
        self.parts_sent = parts_sent
        return self


class TransientError(DeliveryError):
    """A failure worth retrying later (network down, 4xx SMTP, server busy)."""


class RateLimited(TransientError):
    """The channel asked us to wait ``retry_after`` seconds before trying again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """A failure that retrying will not fix (blocked by the user, 5xx SMTP, bad address)."""


class InvalidMessage(InboxError):
    """An inbound message that cannot be processed; it is kept and dead-lettered."""


class NotFound(InboxError):
    """The thing asked for does not exist, or is not visible to the caller."""


class Conflict(InboxError):
    """The request conflicts with the current state (already claimed, already resolved)."""


class QueueUnavailable(InboxError):
    """The queue's server cannot be reached or refused a command; nothing was queued or
    taken. Callers wait and try again (connectors keep their cursor, workers their loop)."""


class ArticleError(InboxError):
    """A knowledge-base article cannot be read; the message names the file and the fault."""
