"""The Connector seam.

A connector brings a channel's messages in (``run`` puts envelopes into the sink and
advances its source cursor only with them) and sends answers out (``send``); ``close``
releases its outbound connections at the very end. It never
touches the store or the classifier, and it translates its third-party errors into
``TransientError``, ``RateLimited`` or ``PermanentError`` at its edge.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from inbox.models import Outbound, TranscriptEntry
from inbox.queue import Sink


class Connector(Protocol):
    """One channel."""

    name: str

    async def run(self, sink: Sink) -> None:
        """Ingests until cancelled."""
        ...

    async def send(self, outbound: Outbound) -> str:
        """Delivers one answer; returns the channel's id for it."""
        ...

    async def close(self) -> None:
        """Releases what ``send`` keeps open (an SMTP connection, an HTTP client). Called
        once the outbox sender has stopped, so no send can open it again."""
        ...


class WebChannel(Connector, Protocol):
    """A connector whose customers reach it over the product's own HTTP server."""

    def routes(self) -> list[web.AbstractRouteDef]:
        """The HTTP routes to mount on the web app."""
        ...

    async def close_connections(self) -> None:
        """Closes long-lived connections (sockets) so the server can stop at once."""
        ...


class CustomerTranscripts(Protocol):
    """Read-only access to what a customer may see of their own conversations."""

    async def for_identity(self, channel: str, address: str) -> list[TranscriptEntry]:
        """Every visible message of the conversations started on ``(channel, address)``."""
        ...

    async def for_ticket(self, reference: int, address: str) -> list[TranscriptEntry]:
        """The visible messages of ticket ``reference``, if ``address`` is its customer."""
        ...

    async def for_submitter(
        self, reference: int, address: str, sent_prefix: str
    ) -> list[TranscriptEntry]:
        """Of ticket ``reference``: the messages this sender wrote (their ids start with
        ``sent_prefix``) and the answers delivered to ``address``; nothing else, even when
        an agent merged the ticket into another customer's."""
        ...

    async def ticket_of(self, reference: int) -> int | None:
        """The reference of the ticket message ``reference`` is stored in, once it is."""
        ...

    async def sent_since(self, channel: str, since: float) -> list[tuple[str, TranscriptEntry]]:
        """Answers delivered on ``channel`` since ``since``, each with its address."""
        ...


class FormAddresses(Protocol):
    """Confirming a web form sender's typed address (the link mailed to it was opened)."""

    async def confirm(self, identity_address: str) -> str:
        """Joins the form sender to that address's customer; returns the address."""
        ...

    async def verified(self, identity_address: str) -> bool:
        """Whether the form sender confirmed their typed address (answers are mailed)."""
        ...
