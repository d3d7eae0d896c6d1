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

import contextlib
import datetime
import email
import email.header
import email.policy
import email.utils
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from typing import Any

from connectors.mail.charsets import RECOVERABLE, decode_text, decode_words, fix_surrogates
from connectors.mail.headers import (
    Reader,
    message_ids,
    normalise_message_id,
    plausible_address,
    without_quotes_and_comments,
)
from connectors.mail.htmltext import html_to_text, sanitize_html
from connectors.mail.quotes import strip_quotes_and_signature
from inbox.errors import InvalidMessage
from inbox.models import Attachment
from inbox.text import clean_text, single_line

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

MAX_FILENAME = 200
MAX_NAME = 200
MAX_SUBJECT = 300
MAX_REFERENCES = 50
MAX_REASON = 500
MAX_DEPTH = 30

_ANGLE_BRACKETED = re.compile(r"<([^<>]*)>")
_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
_REPORT_KINDS = {
    "delivery-status": "delivery status notification (bounce)",
    "feedback-report": "complaint (feedback report)",
    "disposition-notification": "read receipt (disposition notification)",
}
# The parts of a report that name the original mail: its headers, or the receipt's fields.
_REPORT_ORIGINALS = frozenset(
    {
        "message/rfc822",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/disposition-notification",
    }
)
_REPORTED_ID = re.compile(rb"^(?:original-)?message-id:[ \t]*(<[^<>\r\n]+>)", re.I | re.M)


class UnparseableMail(InvalidMessage):
    """The mail cannot become a ticket; the reason says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedMail:
    """Everything the email connector needs from one inbound mail."""

    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str
    from_name: str
    to: tuple[str, ...]
    subject: str
    date: float | None
    text: str
    classify_text: str
    html: str
    attachments: tuple[Attachment, ...]
    automated: str
    defects: tuple[str, ...]
    # Message-IDs of the mail a report (bounce, complaint, read receipt) is about, from its
    # attached original; such reports rarely carry In-Reply-To.
    reported: tuple[str, ...] = ()


# --- headers -------------------------------------------------------------------------------


def _short_error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:MAX_REASON]


def _from_address(reader: Reader) -> tuple[str, str]:
    """The sender's addr-spec and display name from From (never Reply-To).

    The policy's parse is cross-checked against the raw header: an address it found must
    appear there literally (an RFC 2047 encoded word is never an address, whatever it
    decodes to), and when it mistook a display name that looks like an address for the
    address, as with ``a@example.com <b@example.com>``, the angle-bracketed one wins.
    """
    raw = fix_surrogates(reader.raw("From") or "")
    angled = [
        address
        for inner in _ANGLE_BRACKETED.findall(without_quotes_and_comments(raw))
        if (address := plausible_address(inner))
    ]
    parsed: list[tuple[str, str]] = []
    for display_name, addr_spec in reader.addresses("From"):
        address = plausible_address(addr_spec)
        if address and address in raw.lower():
            parsed.append((address, display_name))
    if parsed and (not angled or parsed[0][0] in angled):
        address, name = parsed[0]
        if not name:
            # "addr (Comment Name)" keeps the name in a comment the policy drops.
            with contextlib.suppress(*RECOVERABLE):
                legacy_name, legacy_addr = email.utils.parseaddr(raw)
                if legacy_addr.lower() == address:
                    name = legacy_name
    elif angled:
        address = angled[0]
        name = raw[: raw.lower().find(f"<{address}")].strip().strip('"')
    else:
        raise UnparseableMail("no usable From address")
    if "=?" in name:
        # Still encoded when the policy gave up on the header (it refuses a name that
        # decodes to CR/LF) and the address came from the fallback parse.
        with contextlib.suppress(*RECOVERABLE):
            name = decode_words(name, reader.noter("From"))
    return address, single_line(fix_surrogates(name))[:MAX_NAME]


def _recipients(reader: Reader) -> tuple[str, ...]:
    found: list[str] = []
    for name in ("To", "Cc"):
        for _, addr_spec in reader.addresses(name):
            address = plausible_address(addr_spec)
            if address and address not in found:
                found.append(address)
    return tuple(found)


def _date(reader: Reader) -> float | None:
    raw = reader.raw("Date")
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw.strip())
        if parsed.tzinfo is None:
            # "-0000" means the zone is unknown; UTC is the least wrong guess.
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.timestamp()
    except (*RECOVERABLE, OverflowError, OSError):
        reader.note("Date: unparseable")
        return None


def _automated(reader: Reader, from_address: str) -> str:
    """Why this mail looks machine-sent ("" for a human), so nobody answers it in a loop.

    ``X-Auto-Response-Suppress`` is deliberately not a reason: it is the sender *asking*
    that auto-responders stay quiet, and Outlook and many ticket systems set it on mail that
    people wrote. Machine mail from Exchange also carries ``Auto-Submitted`` or ``Precedence``,
    which catch it here.
    """
    auto_submitted = reader.flag("Auto-Submitted")
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted[:60]}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = reader.flag(name)
        if reader.raw(name) is not None and value not in {"no", "false", "0"}:
            return f"{name}: {value[:60]}".rstrip(": ")
    precedence = reader.flag("Precedence")
    if precedence in _AUTOMATED_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("List-Id", "List-Unsubscribe"):
        if reader.raw(name) is not None:
            return f"mailing list ({name})"
    content_type = _content_type(reader.msg)
    if content_type == "multipart/report":
        report_type = _param(reader.msg, "report-type").lower()
        return _REPORT_KINDS.get(report_type, "delivery status notification")
    local = from_address.partition("@")[0]
    if local in _DAEMON_LOCAL_PARTS:
        return f"From: {local}"
    if (
        reader.raw("Return-Path") is not None
        and "".join(reader.flag("Return-Path").split()) == "<>"
    ):
        return "empty Return-Path"
    return ""


def _reported(msg: Message) -> tuple[str, ...]:
    """The Message-IDs a ``multipart/report`` names as the mail it reports on."""
    if _content_type(msg) != "multipart/report":
        return ()
    payload = msg.get_payload()
    found: list[str] = []
    for part in payload if isinstance(payload, list) else []:
        if not isinstance(part, Message) or _content_type(part) not in _REPORT_ORIGINALS:
            continue
        with contextlib.suppress(*RECOVERABLE):
            match = _REPORTED_ID.search(_payload_bytes(part)[:65536])
            if match:
                found += message_ids(match.group(1).decode("ascii", "replace"))
    return tuple(dict.fromkeys(found))


# --- bodies --------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        content_type = part.get_content_type().lower()
    except RECOVERABLE:
        return "application/octet-stream"
    return content_type if _CONTENT_TYPE.match(content_type) else "application/octet-stream"


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except RECOVERABLE:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return fix_surrogates(value) if isinstance(value, str) else ""


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except RECOVERABLE:
        return ""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except RECOVERABLE:
        name = ""
    if not name:
        name = _param(part, "name")
    if "=?" in name:
        with contextlib.suppress(*RECOVERABLE):
            name = str(email.header.make_header(email.header.decode_header(name)))
    return fix_surrogates(name)


def _sanitise_filename(name: str, position: int) -> str:
    """A safe base name: no path, no control or bidi characters, at most 200 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc (controls, CR/LF) and Cf (bidi overrides that make "gpj.exe" read as "exe.jpg").
    base = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf"} else ch for ch in base)
    base = " ".join(base.split())
    if base in {"", ".", ".."}:
        return f"attachment-{position}"
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        if dot and stem and len(ext) <= 20:
            base = f"{stem[: MAX_FILENAME - len(ext) - 1]}.{ext}"
        else:
            base = base[:MAX_FILENAME]
    return base


@dataclass
class _Segment:
    """One displayable stretch of body: its plain text, its HTML, or both (alternatives)."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Walk:
    """State while walking the MIME tree."""

    reader: Reader
    max_bytes: int
    attachments: list[Attachment] = field(default_factory=list)


def _payload_bytes(part: Message) -> bytes:
    """A leaf's decoded bytes (lenient: broken base64 yields what it can, with a defect)."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    inner = part.get_payload()
    if isinstance(inner, list):
        return b"".join(_serialise(sub) for sub in inner if isinstance(sub, Message))
    if isinstance(inner, str):
        return inner.encode("utf-8", "surrogateescape")
    return b""


def _serialise(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except (*RECOVERABLE, UnicodeError):
        return msg.as_string(policy=email.policy.compat32).encode("utf-8", "surrogateescape")


def _text_of(part: Message, walk: _Walk, where: str) -> str:
    data = _payload_bytes(part)
    text = decode_text(data, _param(part, "charset"), walk.reader.noter(where))
    return clean_text(text)


def _add_attachment(walk: _Walk, data: bytes, filename: str, content_type: str) -> None:
    position = len(walk.attachments) + 1
    omitted = len(data) > walk.max_bytes
    walk.attachments.append(
        Attachment(
            filename=_sanitise_filename(filename, position),
            content_type=content_type,
            size=len(data),
            data=b"" if omitted else data,
            omitted=omitted,
        )
    )


def _forward_header(inner: Message, walk: _Walk) -> str:
    reader = Reader(inner, walk.reader.defects)
    lines = ["---------- Forwarded message ----------"]
    # Date before From: "From:" followed by "Date:" reads as a quoted Outlook header to
    # strip_quotes_and_signature, and a forwarded mail is content, not a quote.
    for name in ("Date", "From", "To", "Subject"):
        value = reader.decoded(name)
        if value:
            lines.append(f"{name}: {single_line(value)[:MAX_SUBJECT]}")
    return "\n".join(lines)


def _walk(part: Message, walk: _Walk, where: str) -> list[_Segment]:
    """The displayable segments of a MIME subtree; attachments are collected on the way.

    ``where`` names the part for defects: "message", then "part 1", "part 1.2" and so on.
    """
    for defect in part.defects:
        walk.reader.note(f"{where}: {type(defect).__name__}")
    if where.count(".") >= MAX_DEPTH:
        walk.reader.note(f"{where}: MIME tree too deep; the rest is ignored")
        return []
    try:
        return _walk_part(part, walk, where)
    except RECOVERABLE as err:
        # One unreadable part must not cost the rest of the mail; the raw mail keeps it.
        walk.reader.note(f"{where}: unreadable ({type(err).__name__}), skipped")
        return []


def _child(where: str, index: int) -> str:
    return f"part {index}" if where == "message" else f"{where}.{index}"


def _walk_part(part: Message, walk: _Walk, where: str) -> list[_Segment]:
    content_type = _content_type(part)
    maintype = content_type.partition("/")[0]
    disposition = _disposition(part)
    payload = part.get_payload()

    if maintype == "multipart" and isinstance(payload, list):
        children = [
            _walk(sub, walk, _child(where, index))
            for index, sub in enumerate(payload, start=1)
            if isinstance(sub, Message)
        ]
        if content_type == "multipart/alternative":
            return _pick_alternative(children)
        return [segment for child in children for segment in child]

    if maintype == "multipart":
        # A multipart whose boundary is missing or never appears: show the body as text.
        walk.reader.note(f"{where}: {content_type} without parts, shown as text")
        return [_Segment(plain=_text_of(part, walk, where))]

    if content_type == "message/rfc822" and disposition != "attachment":
        # A forwarded mail reads as part of the body; its own attachments are kept too.
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            header = _Segment(plain=_forward_header(inner, walk))
            return [header, *_walk(inner, walk, _child(where, 1))]

    filename = _filename(part)
    is_body = content_type in {"text/plain", "text/html"} and (
        disposition == "inline" or (disposition != "attachment" and not filename)
    )
    if not is_body:
        _add_attachment(walk, _payload_bytes(part), filename, content_type)
        return []
    text = _text_of(part, walk, where)
    if content_type == "text/html":
        return [_Segment(html=text)]
    return [_Segment(plain=text)]


def _pick_alternative(children: list[list[_Segment]]) -> list[_Segment]:
    """One segment from alternatives: the plain text one for text, the last HTML for html."""
    # An empty text/plain next to a real HTML part is common; the HTML's text is better then.
    plain_child = next(
        (c for c in children if any(s.plain is not None for s in c) and _render_text(c)), None
    )
    html_child = next((c for c in reversed(children) if any(s.html is not None for s in c)), None)
    if plain_child is None and html_child is None:
        return [segment for child in children for segment in child]
    return [
        _Segment(
            plain=_render_text(plain_child) if plain_child is not None else None,
            html=_render_html(html_child) if html_child is not None else None,
        )
    ]


def _render_text(segments: Iterable[_Segment]) -> str:
    chunks: list[str] = []
    for segment in segments:
        if segment.plain is not None:
            chunk = segment.plain
        elif segment.html is not None:
            chunk = html_to_text(segment.html)
        else:
            continue
        if chunk.strip():
            chunks.append(chunk.strip("\n"))
    return "\n\n".join(chunks)


def _render_html(segments: Iterable[_Segment]) -> str:
    return "\n".join(s.html for s in segments if s.html is not None)


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
    from_address, from_name = _from_address(reader)

    walk = _Walk(reader=reader, max_bytes=attachment_max_bytes)
    segments = _walk(msg, walk, "message")
    text = _render_text(segments)
    html_source = _render_html(segments)
    html = sanitize_html(html_source) if any(s.html is not None for s in segments) else ""
    classify_text = strip_quotes_and_signature(text) or text

    references = message_ids(reader.raw("References") or "")[-MAX_REFERENCES:]
    return ParsedMail(
        message_id=normalise_message_id(reader.raw("Message-ID") or ""),
        in_reply_to=tuple(message_ids(reader.raw("In-Reply-To") or "")),
        references=tuple(references),
        from_address=from_address,
        from_name=from_name,
        to=_recipients(reader),
        subject=single_line(reader.decoded("Subject") or "")[:MAX_SUBJECT],
        date=_date(reader),
        text=text,
        classify_text=classify_text,
        html=html,
        attachments=tuple(walk.attachments),
        automated=_automated(reader, from_address),
        defects=tuple(reader.defects),
        reported=_reported(msg),
    )
