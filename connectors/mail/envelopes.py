"""One raw email → one Envelope: a ticket-to-be, or a quarantine entry, never nothing.

Every envelope carries the raw message as its ``original`` attachment, so what the
customer sent is kept byte for byte whatever the parser made of it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from email.parser import BytesHeaderParser
from email.policy import compat32

from connectors.mail.charsets import decode_words
from connectors.mail.parse import UnparseableMail, parse_mail
from inbox.config.settings import EmailSettings
from inbox.models import Attachment, Envelope, MessageMeta
from inbox.text import clean_text, single_line

log = logging.getLogger(__name__)

MAX_REFERENCES = 20
UNKNOWN_SENDER = "unknown"


def external_id(raw: bytes) -> str:
    """A mail's identity in the queue: its exact bytes, as the server serves them.

    The same mail fetched twice (a crash before the watermark, a UIDVALIDITY re-sync, a
    second folder) has the same bytes and is queued once. Copies whose headers differ
    (a redelivery) are kept too, and the store recognises them by their Message-ID.
    """
    return "mail:" + hashlib.sha256(raw).hexdigest()[:48]


def _original(raw: bytes) -> Attachment:
    return Attachment(
        filename="original.eml",
        content_type="message/rfc822",
        size=len(raw),
        data=raw,
        kind="original",
    )


def _peek(raw: bytes) -> tuple[str, str]:
    """From and Subject as plain text, best effort, for the operator's list."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
        found = []
        for name in ("From", "Subject"):
            value = headers.get(name, "")
            found.append(single_line(decode_words(str(value), lambda _defect: None))[:300])
        return found[0], found[1]
    except Exception:  # a header too broken even for this: the list shows nothing
        return "", ""


def quarantined(raw: bytes, box: EmailSettings, reason: str) -> Envelope:
    """An envelope that keeps an unusable mail whole, with the reason."""
    sender, subject = _peek(raw)
    return Envelope(
        channel=box.name,
        external_id=external_id(raw),
        identity_channel="email",
        address=sender or UNKNOWN_SENDER,
        subject=subject,
        text="",
        received_at=time.time(),
        quarantine=single_line(reason)[:2000] or "unparseable",
        attachments=(_original(raw),),
    )


def envelope_from_mail(raw: bytes, box: EmailSettings) -> Envelope:
    """The envelope for one fetched mail; never raises."""
    try:
        parsed = parse_mail(raw, attachment_max_bytes=box.attachment_max_bytes)
    except UnparseableMail as err:
        return quarantined(raw, box, str(err))
    except Exception as err:  # a parser bug must not lose the mail or stop the connector
        log.exception("email %s: the parser failed on a mail; it goes to quarantine", box.name)
        return quarantined(raw, box, f"parser error: {type(err).__name__}: {err}")

    automated = parsed.automated
    if parsed.from_address == box.address:
        automated = automated or "sent from our own support address"
    thread_ids = tuple(
        dict.fromkeys((*parsed.in_reply_to, *reversed(parsed.references), *parsed.reported))
    )
    meta = MessageMeta(
        message_id=parsed.message_id,
        mailbox=box.address,
        in_reply_to=parsed.in_reply_to[0] if parsed.in_reply_to else "",
        references=" ".join(parsed.references[-MAX_REFERENCES:]),
        defects="; ".join(parsed.defects)[:1000],
    )
    return Envelope(
        channel=box.name,
        external_id=external_id(raw),
        identity_channel="email",
        address=parsed.from_address,
        text=clean_text(parsed.text),
        received_at=time.time(),
        sender_name=parsed.from_name,
        subject=parsed.subject,
        meta=meta,
        classify_text=clean_text(parsed.classify_text),
        html=parsed.html,
        thread_ids=thread_ids,
        automated=automated,
        attachments=(*parsed.attachments, _original(raw)),
    )
