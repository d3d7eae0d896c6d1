"""SMTP out: one answer becomes one email, threaded, with a Message-ID that never changes.

The Message-ID is derived from the outbox row, so a send that is retried (a 4xx, or a
connection lost after DATA, when the server may or may not have taken it) carries the
same Message-ID again and the customer's mail program shows one message. Header values
are built from single-line text and checked by the email package, which refuses CR/LF:
nothing a customer typed can add a header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate

import aiosmtplib

from inbox.answer_files import media_type, safe_filename
from inbox.config.settings import EmailSettings
from inbox.errors import PermanentError, TransientError
from inbox.message_ids import outbound_message_id
from inbox.models import Outbound
from inbox.text import format_reference, single_line
from inbox.texts import Catalogue, Key, Wording

log = logging.getLogger(__name__)

ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+\.[^@\s<>()\[\],;:\"\\]+$")
MESSAGE_ID = re.compile(r"^<[^<>\s]{1,900}>$")
REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
TICKET_TOKEN = re.compile(r"\s*\[#\d{1,12}\]")


def reply_subject(subject: str, reference: int, say: Wording | None = None) -> str:
    """``Re: <subject> [#1042]``: one "Re:", one ticket token, one line; without a subject,
    ``Your request [#1042]`` in the customer's words."""
    base = TICKET_TOKEN.sub("", REPLY_PREFIX.sub("", single_line(subject))).strip()
    token = f"[{format_reference(reference)}]"
    if base:
        return f"Re: {base} {token}"
    return f"{(say or Catalogue().wording('en'))(Key.MAIL_REQUEST)} {token}"


def build_message(
    outbound: Outbound, box: EmailSettings, secret: bytes, texts: Catalogue | None = None
) -> EmailMessage:
    """The email for one outbox row; a bad recipient address is a PermanentError. The
    words it adds (a subject where there is none) are in the customer's language."""
    say = (texts or Catalogue()).wording(outbound.language)
    to = outbound.address.strip()
    if not ADDRESS.match(to):
        raise PermanentError(f"not an email address we can send to: {to[:100]!r}")
    domain = box.address.rsplit("@", 1)[1]
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((single_line(box.display_name), box.address))
    message["To"] = to
    # A service mail (a link code) belongs to no ticket, and an alert to staff is not part
    # of the customer's thread: their subjects are their own.
    staff = outbound.author == "alert"
    message["Subject"] = (
        reply_subject(outbound.subject, outbound.reference, say)
        if outbound.reference and not staff
        else single_line(outbound.subject) or say(Key.MAIL_SUBJECT)
    )
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = outbound_message_id(
        secret, outbound.reference, outbound.outbox_id, domain
    )
    if MESSAGE_ID.match(outbound.in_reply_to) and not staff:
        message["In-Reply-To"] = outbound.in_reply_to
    references = [r for r in outbound.references if MESSAGE_ID.match(r)]
    if references and not staff:
        message["References"] = " ".join(references)
    if staff:
        message["Auto-Submitted"] = "auto-generated"
    if outbound.author == "bot":
        # RFC 3834: an automatic answer; well-behaved responders will not answer it.
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    message.set_content(outbound.text)
    for file in outbound.files:  # an agent's files: the mail becomes multipart/mixed
        maintype, _, subtype = media_type(file.content_type).partition("/")
        message.add_attachment(
            file.data, maintype=maintype, subtype=subtype, filename=safe_filename(file.filename)
        )
    return message


class SmtpSender:
    """Sends answers through one mailbox's SMTP server, keeping the connection open."""

    def __init__(self, box: EmailSettings, secret: bytes, texts: Catalogue | None = None) -> None:
        self.box = box
        self.secret = secret
        self.texts = texts or Catalogue()
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def send(self, outbound: Outbound) -> str:
        """Sends one answer; returns its Message-ID. Raises TransientError (try again
        later) or PermanentError (the server refused it for good)."""
        message = build_message(outbound, self.box, self.secret, self.texts)
        message_id = str(message["Message-ID"])
        async with self._lock:
            try:
                client = await self._connected()
                await client.send_message(message)
            except aiosmtplib.SMTPRecipientsRefused as err:
                await self._drop()
                codes = [r.code for r in err.recipients]
                detail = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
                if all(500 <= c < 600 for c in codes):
                    raise PermanentError(f"recipient refused: {detail}") from err
                raise TransientError(f"recipient deferred: {detail}") from err
            except aiosmtplib.SMTPResponseException as err:
                await self._drop()
                text = f"SMTP {err.code} {err.message}"
                if 500 <= err.code < 600:
                    raise PermanentError(text) from err
                raise TransientError(text) from err
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
                # Includes a connection lost after DATA: the server may have the mail,
                # so the retry reuses this Message-ID.
                await self._drop()
                raise TransientError(f"SMTP {type(err).__name__}: {err}") from err
        return message_id

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        box = self.box
        client = aiosmtplib.SMTP(
            hostname=box.smtp_host,
            port=box.smtp_port,
            use_tls=box.smtp_tls == "ssl",
            start_tls=box.smtp_tls == "starttls",
            timeout=box.timeout,
        )
        await client.connect()
        if box.smtp_user:
            await client.login(box.smtp_user, box.smtp_password)
        self._client = client
        return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            client.close()

    async def close(self) -> None:
        """Says goodbye to the server, if connected."""
        async with self._lock:
            client, self._client = self._client, None
            if client is None:
                return
            if client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                    await asyncio.wait_for(client.quit(), self.box.timeout)
            client.close()  # whatever state it is in: no transport is left open
