"""The MIME walk: a mail's tree of parts becomes displayable text and HTML, and the
attachments are collected on the way. One unreadable part costs only itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message

from connectors.mail.attachments import kept_attachment
from connectors.mail.charsets import RECOVERABLE, decode_text
from connectors.mail.headers import Reader
from connectors.mail.htmltext import html_to_text
from connectors.mail.parsed import MAX_SUBJECT
from connectors.mail.parts import part_bytes, part_disposition, part_filename, part_param, part_type
from inbox.models import Attachment
from inbox.text import clean_text, single_line

MAX_DEPTH = 30


@dataclass(frozen=True)
class Segment:
    """One displayable stretch of body: its plain text, its HTML, or both (alternatives)."""

    plain: str | None = None
    html: str | None = None


@dataclass
class Walk:
    """State while walking the MIME tree."""

    reader: Reader
    max_bytes: int
    attachments: list[Attachment] = field(default_factory=list)


def body_segments(msg: Message, walk: Walk) -> list[Segment]:
    """The displayable segments of the whole mail; attachments are collected in ``walk``."""
    return _walk(msg, walk, "message")


def _text_of(part: Message, walk: Walk, where: str) -> str:
    data = part_bytes(part)
    text = decode_text(data, part_param(part, "charset"), walk.reader.noter(where))
    return clean_text(text)


def _add_attachment(walk: Walk, data: bytes, filename: str, content_type: str) -> None:
    position = len(walk.attachments) + 1
    walk.attachments.append(kept_attachment(data, filename, content_type, position, walk.max_bytes))


def _forward_header(inner: Message, walk: Walk) -> str:
    reader = Reader(inner, walk.reader.defects)
    lines = ["---------- Forwarded message ----------"]
    # Date before From: "From:" followed by "Date:" reads as a quoted Outlook header to
    # strip_quotes_and_signature, and a forwarded mail is content, not a quote.
    for name in ("Date", "From", "To", "Subject"):
        value = reader.decoded(name)
        if value:
            lines.append(f"{name}: {single_line(value)[:MAX_SUBJECT]}")
    return "\n".join(lines)


def _walk(part: Message, walk: Walk, where: str) -> list[Segment]:
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


def _walk_part(part: Message, walk: Walk, where: str) -> list[Segment]:
    content_type = part_type(part)
    maintype = content_type.partition("/")[0]
    disposition = part_disposition(part)
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
        return [Segment(plain=_text_of(part, walk, where))]

    if content_type == "message/rfc822" and disposition != "attachment":
        # A forwarded mail reads as part of the body; its own attachments are kept too.
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            header = Segment(plain=_forward_header(inner, walk))
            return [header, *_walk(inner, walk, _child(where, 1))]

    filename = part_filename(part)
    is_body = content_type in {"text/plain", "text/html"} and (
        disposition == "inline" or (disposition != "attachment" and not filename)
    )
    if not is_body:
        _add_attachment(walk, part_bytes(part), filename, content_type)
        return []
    text = _text_of(part, walk, where)
    if content_type == "text/html":
        return [Segment(html=text)]
    return [Segment(plain=text)]


def _pick_alternative(children: list[list[Segment]]) -> list[Segment]:
    """One segment from alternatives: the plain text one for text, the last HTML for html."""
    # An empty text/plain next to a real HTML part is common; the HTML's text is better then.
    plain_child = next(
        (c for c in children if any(s.plain is not None for s in c) and render_text(c)), None
    )
    html_child = next((c for c in reversed(children) if any(s.html is not None for s in c)), None)
    if plain_child is None and html_child is None:
        return [segment for child in children for segment in child]
    return [
        Segment(
            plain=render_text(plain_child) if plain_child is not None else None,
            html=render_html(html_child) if html_child is not None else None,
        )
    ]


def render_text(segments: Iterable[Segment]) -> str:
    """The segments' text, HTML ones turned into text, separated by blank lines."""
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


def render_html(segments: Iterable[Segment]) -> str:
    """The segments' HTML, unsanitised, one after the other."""
    return "\n".join(s.html for s in segments if s.html is not None)
