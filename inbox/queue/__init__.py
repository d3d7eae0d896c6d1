"""The inbound queue seam: connectors put, workers claim, ack, retry."""

from inbox.queue.base import Queue, Sink

__all__ = ["Queue", "Sink"]
