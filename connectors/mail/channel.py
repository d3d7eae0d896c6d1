"""The email connector: one mailbox, IMAP in and SMTP out, behind the Connector seam."""

from __future__ import annotations

import logging

from connectors.mail.imap import ImapIngest
from connectors.mail.smtp import SmtpSender
from inbox.config.settings import EmailSettings
from inbox.models import Outbound
from inbox.queue import Sink
from inbox.texts import Catalogue

log = logging.getLogger(__name__)


class EmailConnector:
    """One mailbox. Its channel name (``email`` by default) is on every ticket it opens."""

    def __init__(self, box: EmailSettings, secret: bytes, texts: Catalogue | None = None) -> None:
        self.name = box.name
        self.box = box
        self.state = "starting"
        self.ingest = ImapIngest(box, on_state=self._set_state)
        self.sender = SmtpSender(box, secret, texts)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            log.info("email %s: %s", self.name, state)
        self.state = state

    async def run(self, sink: Sink) -> None:
        """Fetches mail until cancelled."""
        await self.ingest.run(sink)

    async def close(self) -> None:
        """Says goodbye to the SMTP server."""
        await self.sender.close()

    async def send(self, outbound: Outbound) -> str:
        """Sends one answer by SMTP; returns its Message-ID."""
        return await self.sender.send(outbound)
