"""One raw RFC 5322 message in, one typed :class:`ParsedMail` out.

Mail is hostile input: lying charsets, broken base64, missing boundaries, header values the
standard library's parser chokes on. Every header and every part is read on its own, and a
failure there becomes a note in ``defects`` rather than a lost mail. Only a mail with no usable
sender, or one that breaks the parser in a way nobody foresaw, is refused with
:class:`UnparseableMail`; the connector keeps its raw bytes in quarantine.

Whatever comes out of here is safe to put in a header (no CR/LF in header-derived strings) or a
page (``html`` went through nh3, ``text`` is plain text to be escaped like any other).
"""

from __future__ import annotations

import email
import email.policy
import functools
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from typing import Any

from connectors.mail.automated import automated_reason, reported_ids
from connectors.mail.headers import Reader, message_ids, normalise_message_id
from connectors.mail.htmltext import html_to_text, sanitize_html
from connectors.mail.origin import recipients, sender, sent_at
from connectors.mail.parsed import MAX_SUBJECT, ParsedMail, UnparseableMail
from connectors.mail.quotes import strip_quotes_and_signature
from connectors.mail.walk import Walk, body_segments, render_html, render_text
from inbox.text import single_line

# The public face of the mail parser; the helpers it re-exports live in sibling modules.
__all__ = [
    "ParsedMail",
    "UnparseableMail",
    "html_to_text",
    "normalise_message_id",
    "parse_mail",
    "sanitize_html",
    "strip_quotes_and_signature",
]

MAX_REFERENCES = 50
MAX_REASON = 500


def _short_error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:MAX_REASON]


# --- the parser's policy


@functools.lru_cache(maxsize=64)
def _header_class(lowercase_name: str) -> type[BaseHeader]:
    """The class ``policy.default`` builds a header of this name with (it depends on no more)."""
    registry = email.policy.default.header_factory
    if not isinstance(registry, HeaderRegistry):  # pragma: no cover - only if replaced
        raise TypeError("email.policy.default no longer uses a HeaderRegistry")
    return registry[lowercase_name]


class _HeaderMemo:
    """``policy.default``'s header factory, building each distinct header of one mail once.

    Under that policy every ``get()``, ``get_content_type()``, ``get_param()`` and
    ``get_filename()`` parses the header from scratch, and the feed parser and this module
    ask for Content-Type several times per part: that was most of the time a mail took.
    Header objects are immutable, so handing out the same one again changes nothing else.
    """

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if not isinstance(value, str):  # pragma: no cover - parsed headers are str
            return _header_class(name.lower())(name, value)
        header = self._built.get((name, value))
        if header is None:
            header = self._built[name, value] = _header_class(name.lower())(name, value)
        return header


# --- the entry point -----------------------------------------------------------------------


def parse_mail(raw: bytes, *, attachment_max_bytes: int = 10 * 1024 * 1024) -> ParsedMail:
    """Parse one raw mail; raises :class:`UnparseableMail` when it cannot become a ticket."""
    try:
        return _parse(bytes(raw), attachment_max_bytes)
    except UnparseableMail:
        raise
    except Exception as err:
        # Anything else is a parser failure nobody foresaw: the mail is quarantined whole.
        raise UnparseableMail(_short_error(err)) from err


def _parse(raw: bytes, attachment_max_bytes: int) -> ParsedMail:
    # A policy of its own per mail: the memo is the mail's, never shared across mails.
    policy = email.policy.default.clone(header_factory=_HeaderMemo())
    msg = email.message_from_bytes(raw, policy=policy)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - the policy guarantees it
        raise UnparseableMail("the parser did not return a message")
    reader = Reader(msg)
    sent_by = sender(reader)

    walk = Walk(reader=reader, max_bytes=attachment_max_bytes)
    segments = body_segments(msg, walk)
    text = render_text(segments)
    html_source = render_html(segments)
    html = sanitize_html(html_source) if any(s.html is not None for s in segments) else ""
    classify_text = strip_quotes_and_signature(text) or text

    references = message_ids(reader.raw("References") or "")[-MAX_REFERENCES:]
    return ParsedMail(
        message_id=normalise_message_id(reader.raw("Message-ID") or ""),
        in_reply_to=tuple(message_ids(reader.raw("In-Reply-To") or "")),
        references=tuple(references),
        from_address=sent_by.address,
        from_name=sent_by.name,
        to=recipients(reader),
        subject=single_line(reader.decoded("Subject") or "")[:MAX_SUBJECT],
        date=sent_at(reader),
        text=text,
        classify_text=classify_text,
        html=html,
        attachments=tuple(walk.attachments),
        automated=automated_reason(reader, sent_by.address),
        defects=tuple(reader.defects),
        reported=reported_ids(msg),
    )
