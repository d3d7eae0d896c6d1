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

import codecs
import contextlib
import datetime
import email
import email.errors
import email.header
import email.policy
import email.utils
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from html.parser import HTMLParser

import nh3

from inbox.errors import InvalidMessage
from inbox.text import clean_text, single_line

MAX_FILENAME = 200
MAX_NAME = 200
MAX_SUBJECT = 300
MAX_ANGLE_BRACKETED = 900
MAX_REFERENCES = 50
MAX_REASON = 500
MAX_DEPTH = 30
MAX_DEFECTS = 50
MAX_POLICY_ADDRESS_HEADER = 2000
MAX_ADDRESS_HEADER = 64 * 1024

# What a header or part read can raise on malformed input: LookupError (unknown charset,
# IndexError inside the header parser), ValueError (UnicodeError, binascii.Error), the email
# package's own errors, the odd TypeError/AttributeError from a value of the wrong shape, and
# the AssertionError the stdlib's parsers still use for "cannot happen" states.
_RECOVERABLE = (
    LookupError,
    ValueError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,  # the address parsers recurse once per nested "(" of a comment
    email.errors.MessageError,
)

# Text codecs Python knows that are not character sets; a mail naming one is treated as an
# unknown charset rather than run through, say, unicode_escape.
_NOT_CHARSETS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)
# What senders declare -> what their software actually wrote (as browsers do, per WHATWG).
_CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
_ADDR_SPEC = re.compile(r'^(?:"[^"\\\x00-\x1f\x7f]+"|[^\s@<>()\[\],;:\\"]+)@[^\s@<>()\[\],;:\\"]+$')
_ANGLE_BRACKETED = re.compile(r"<([^<>]*)>")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_BLANK_RUNS = re.compile(r"\n{3,}")
_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})

_Note = Callable[[str], None]


class UnparseableMail(InvalidMessage):
    """The mail cannot become a ticket; the reason says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MailAttachment:
    """One attachment: a sanitised name, its type and size, and its bytes unless too big."""

    filename: str
    content_type: str
    size: int
    data: bytes
    omitted: bool


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
    attachments: tuple[MailAttachment, ...]
    automated: str
    defects: tuple[str, ...]


# --- HTML ---------------------------------------------------------------------------------

# nh3's defaults minus images (tracking pixels, data: URLs); no style attribute is allowed.
_HTML_TAGS = frozenset(nh3.ALLOWED_TAGS - {"img", "map", "area"})
_HTML_ATTRIBUTES = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag in _HTML_TAGS
}
# Removed together with their content: what is inside them is code, not something to read.
_HTML_DROPPED = frozenset(
    {"script", "style", "title", "noscript", "template", "iframe", "object", "embed", "applet"}
    | {"frame", "frameset", "svg", "math", "head"}
)
_CLEANER = nh3.Cleaner(
    tags=_HTML_TAGS,
    clean_content_tags=_HTML_DROPPED,
    attributes=_HTML_ATTRIBUTES,
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    strip_comments=True,
)


def sanitize_html(html: str) -> str:
    """HTML that is safe to put in a page: no script, handlers, styles, images or odd links."""
    return _CLEANER.clean(_fix_surrogates(html))


_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "body", "caption", "center", "dd", "details", "div", "dl"}
    | {"dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "li"}
    | {"main", "nav", "section", "summary", "tbody", "td", "tfoot", "th", "thead", "tr"}
)
# Blocks that read as paragraphs: a blank line around them.
_PARAGRAPH_TAGS = frozenset(
    {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"}
)
_SKIPPED_TAGS = frozenset({"script", "style", "title", "noscript", "template", "head"})


class _TextExtractor(HTMLParser):
    """Collects the readable text of an HTML document, one line per block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping: list[str] = []
        self._pre = 0
        self._newlines = 1  # at the start of a line, as if one had just been written

    def _append(self, chunk: str) -> None:
        self.chunks.append(chunk)
        stripped = chunk.rstrip("\n")
        if stripped:
            self._newlines = len(chunk) - len(stripped)
        else:
            self._newlines += len(chunk)

    def _break(self, newlines: int) -> None:
        """Ends the line (1) or the paragraph (2), unless that is already done."""
        if self._newlines < newlines:
            self._append("\n" * (newlines - self._newlines))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> left open must not swallow the whole body.
            self._skipping.clear()
        if tag in _SKIPPED_TAGS:
            self._skipping.append(tag)
        elif tag == "br":
            self._append("\n")
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
            self._pre += tag == "pre"
        elif tag in _BLOCK_TAGS:
            self._break(1)
            if tag == "li":
                self._append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._append("\n")
        elif tag in _PARAGRAPH_TAGS or tag in _BLOCK_TAGS:
            self._break(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre" and self._pre:
                self._pre -= 1
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if self._newlines:
                data = data.lstrip(" ")
            if not data:
                return
        self._append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: blocks become lines, code and head are dropped."""
    extractor = _TextExtractor()
    try:
        extractor.feed(_fix_surrogates(html))
        extractor.close()
        raw = "".join(extractor.chunks)
    except _RECOVERABLE:
        # The stdlib parser has had assertion failures on truly broken markup; fall back
        # to dropping anything that looks like a tag.
        raw = re.sub(r"<[^>]*>", " ", html)
    lines = (line.replace("\xa0", " ").rstrip() for line in clean_text(raw).split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


# --- quotes and signatures -----------------------------------------------------------------

_ATTRIBUTION = re.compile(
    r"^\s*(?:on\s.+\swrote|am\s.+\sschrieb.*|le\s.+\sa\s+écrit|el\s.+\sescribió|op\s.+\sschreef.*)"
    r"\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*(?:on|am|le|el|op)\s", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*original message\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:from|von|de|van|da)\s*:\*?\s*\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|gesendet|datum|envoyé|enviado|enviada|inviato|data|verzonden)\s*:",
    re.IGNORECASE,
)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_length(lines: list[str], index: int) -> int:
    """How many lines (0, 1 or 2) an "On <date>, <name> wrote:" attribution spans here."""
    line = lines[index]
    if _ATTRIBUTION.match(line):
        return 1
    joined = f"{line.rstrip()} {lines[index + 1].strip()}" if index + 1 < len(lines) else ""
    if joined and _ATTRIBUTION_START.match(line) and _ATTRIBUTION.match(joined):
        return 2
    return 0


def _starts_reply_header(lines: list[str], index: int) -> bool:
    """Whether an "Original Message" line or an Outlook From:/Sent: block starts here."""
    if _ORIGINAL_MESSAGE.match(lines[index]):
        return True
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    return any(_OUTLOOK_NEXT.match(line) for line in lines[index + 1 : index + 4])


def _is_signature_delimiter(line: str) -> bool:
    return line in {"-- ", "--"}


def _interleaved_after(lines: list[str]) -> bool:
    """Whether the lines after an attribution mix quotes with new text (an inline reply).

    Top-posted replies have only the quote after the attribution, and cutting there is right;
    bottom-posted or interleaved ones carry the customer's words below it, which must stay.
    """
    seen_quote = False
    for line in lines:
        if _is_signature_delimiter(line):
            break
        if _is_quoted(line):
            seen_quote = True
        elif seen_quote and line.strip():
            return True
    return False


def strip_quotes_and_signature(text: str) -> str:
    """The new part of a reply: quoted lines, reply headers and the signature removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _is_signature_delimiter(line) or _starts_reply_header(lines, index):
            break
        span = _attribution_length(lines, index)
        if span:
            if not _interleaved_after(lines[index + span :]):
                break
            index += span
            continue
        if not _is_quoted(line):
            kept.append(line.rstrip())
        index += 1
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()


# --- headers -------------------------------------------------------------------------------


def _fix_surrogates(value: str) -> str:
    """Undo the surrogate escapes the bytes parser leaves for raw 8-bit header bytes."""
    if not _SURROGATE.search(value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return _SURROGATE.sub(_surrogate_char, value)


def _surrogate_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return bytes([code - 0xDC00]).decode("cp1252", errors="replace")
    return "\ufffd"


def normalise_message_id(value: str) -> str:
    """``<local@domain>`` from a Message-ID value, or "" when there is none worth keeping."""
    compact = "".join(_fix_surrogates(value).split())
    compact = "".join(ch for ch in compact if unicodedata.category(ch)[0] != "C")
    match = _ANGLE_BRACKETED.search(compact)
    inner = match.group(1) if match else compact
    # An id without "@" or of absurd length is more likely garbage than an id; a truncated
    # id would never match its original, so it is dropped rather than cut.
    if "@" not in inner or inner.startswith("@") or inner.endswith("@"):
        return ""
    normalised = f"<{inner}>"
    return normalised if len(normalised) <= MAX_ANGLE_BRACKETED else ""


def _message_ids(value: str) -> list[str]:
    """Every Message-ID in a References/In-Reply-To value, in order and without repeats."""
    found = _ANGLE_BRACKETED.findall(value)
    candidates = [f"<{inner}>" for inner in found] if found else [value]
    ids: list[str] = []
    for candidate in candidates:
        normalised = normalise_message_id(candidate)
        if normalised and normalised not in ids:
            ids.append(normalised)
    return ids


def _decode_words(raw: str, note: _Note) -> str:
    """Decodes RFC 2047 encoded words, each with the charset fallbacks of a body."""
    decoded: list[str] = []
    for piece, charset in email.header.decode_header(raw):
        if isinstance(piece, str):
            decoded.append(piece)
        elif charset is None:
            # decode_header hands back the unencoded stretches this way.
            try:
                decoded.append(piece.decode("raw-unicode-escape"))
            except UnicodeError:
                decoded.append(piece.decode("latin-1"))
        else:
            decoded.append(_decode_text(piece, charset, note))
    return _fix_surrogates("".join(decoded))


def _plausible_address(value: str) -> str:
    """The lowercased addr-spec if it looks like one, else ""."""
    address = _fix_surrogates(value).strip().lower()
    if len(address) > 320 or not _ADDR_SPEC.match(address):
        return ""
    domain = address.rpartition("@")[2]
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return ""
    return address


def _short_error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:MAX_REASON]


@dataclass
class _Reader:
    """Reads headers of one message defensively, noting every problem."""

    msg: Message
    defects: list[str] = field(default_factory=list)

    def note(self, defect: str) -> None:
        if defect not in self.defects and len(self.defects) < MAX_DEFECTS:
            self.defects.append(defect)

    def noter(self, where: str) -> _Note:
        """A ``note`` that says where the problem was."""
        return lambda defect: self.note(f"{where}: {defect}")

    def raw(self, name: str) -> str | None:
        """The first raw value of a header, unfolded, without any MIME decoding."""
        wanted = name.lower()
        for key, value in self.msg.raw_items():
            if key.lower() == wanted:
                text = value if isinstance(value, str) else str(value)
                return "".join(text.replace("\r", "\n").split("\n"))
        return None

    def decoded(self, name: str) -> str | None:
        """A header with RFC 2047 encoded words decoded (with the same charset fallbacks)."""
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return _decode_words(raw, self.noter(name))
        except _RECOVERABLE as err:
            self.note(f"{name}: undecodable ({type(err).__name__})")
        try:
            return _fix_surrogates(str(self.msg.get(name, "")))
        except _RECOVERABLE:
            return _fix_surrogates(raw)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, addr-spec) pairs of an address header, addr-specs not yet checked."""
        pairs: list[tuple[str, str]] = []
        raw = self.raw(name) or ""
        if len(raw) > MAX_POLICY_ADDRESS_HEADER:
            # The policy's address parser is quadratic on some input (8 KB of quotes take
            # seconds); a header this long goes to the simpler, linear legacy parser.
            self.note(f"{name}: {len(raw)} characters, parsed leniently")
            with contextlib.suppress(*_RECOVERABLE):
                pairs = email.utils.getaddresses([raw[:MAX_ADDRESS_HEADER]])
            return pairs
        try:
            header = self.msg.get(name)
            if header is None:
                return []
            for defect in getattr(header, "defects", ()):
                self.note(f"{name}: {type(defect).__name__}")
            for address in getattr(header, "addresses", ()):
                pairs.append((str(address.display_name), str(address.addr_spec)))
        except _RECOVERABLE as err:
            self.note(f"{name}: unreadable ({type(err).__name__})")
            with contextlib.suppress(*_RECOVERABLE):
                pairs = email.utils.getaddresses([raw])
        return pairs

    def flag(self, name: str) -> str:
        """A header's raw value, single-line and lowercased, for flag checks."""
        return single_line(_fix_surrogates(self.raw(name) or "")).lower()


def _without_quotes_and_comments(value: str) -> str:
    """The header with quoted strings and (nested) comments blanked, in one linear pass."""
    kept: list[str] = []
    quoted = escaped = False
    depth = 0
    for ch in value:
        if escaped:
            escaped = False
        elif (quoted or depth) and ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == "(":
            depth += 1
        elif depth:
            depth -= ch == ")"
        elif ch == '"':
            quoted = True
        else:
            kept.append(ch)
            continue
        kept.append(" ")
    return "".join(kept)


def _from_address(reader: _Reader) -> tuple[str, str]:
    """The sender's addr-spec and display name from From (never Reply-To).

    The policy's parse is cross-checked against the raw header: an address it found must
    appear there literally (an RFC 2047 encoded word is never an address, whatever it
    decodes to), and when it mistook a display name that looks like an address for the
    address, as with ``a@example.com <b@example.com>``, the angle-bracketed one wins.
    """
    raw = _fix_surrogates(reader.raw("From") or "")
    angled = [
        address
        for inner in _ANGLE_BRACKETED.findall(_without_quotes_and_comments(raw))
        if (address := _plausible_address(inner))
    ]
    parsed: list[tuple[str, str]] = []
    for display_name, addr_spec in reader.addresses("From"):
        address = _plausible_address(addr_spec)
        if address and address in raw.lower():
            parsed.append((address, display_name))
    if parsed and (not angled or parsed[0][0] in angled):
        address, name = parsed[0]
        if not name:
            # "addr (Comment Name)" keeps the name in a comment the policy drops.
            with contextlib.suppress(*_RECOVERABLE):
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
        with contextlib.suppress(*_RECOVERABLE):
            name = _decode_words(name, reader.noter("From"))
    return address, single_line(_fix_surrogates(name))[:MAX_NAME]


def _recipients(reader: _Reader) -> tuple[str, ...]:
    found: list[str] = []
    for name in ("To", "Cc"):
        for _, addr_spec in reader.addresses(name):
            address = _plausible_address(addr_spec)
            if address and address not in found:
                found.append(address)
    return tuple(found)


def _date(reader: _Reader) -> float | None:
    raw = reader.raw("Date")
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw.strip())
        if parsed.tzinfo is None:
            # "-0000" means the zone is unknown; UTC is the least wrong guess.
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.timestamp()
    except (*_RECOVERABLE, OverflowError, OSError):
        reader.note("Date: unparseable")
        return None


def _automated(reader: _Reader, from_address: str) -> str:
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
        if report_type == "disposition-notification":
            return "disposition notification"
        return "delivery status notification"
    local = from_address.partition("@")[0]
    if local in _DAEMON_LOCAL_PARTS:
        return f"From: {local}"
    if (
        reader.raw("Return-Path") is not None
        and "".join(reader.flag("Return-Path").split()) == "<>"
    ):
        return "empty Return-Path"
    return ""


# --- bodies --------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        content_type = part.get_content_type().lower()
    except _RECOVERABLE:
        return "application/octet-stream"
    return content_type if _CONTENT_TYPE.match(content_type) else "application/octet-stream"


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except _RECOVERABLE:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return _fix_surrogates(value) if isinstance(value, str) else ""


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except _RECOVERABLE:
        return ""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except _RECOVERABLE:
        name = ""
    if not name:
        name = _param(part, "name")
    if "=?" in name:
        with contextlib.suppress(*_RECOVERABLE):
            name = str(email.header.make_header(email.header.decode_header(name)))
    return _fix_surrogates(name)


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


def _decode_text(data: bytes, charset: str, note: _Note) -> str:
    """Bytes of a text part as str: the declared charset, else utf-8, else cp1252."""
    declared = charset.strip().strip('"').lower() or "us-ascii"
    try:
        codec = codecs.lookup(declared).name
        if codec in _NOT_CHARSETS:
            raise LookupError(declared)
        # Senders say gb2312 or iso-8859-1 and mean the superset their system really used.
        superset = _CHARSET_SUPERSETS.get(codec)
        if superset:
            try:
                return data.decode(superset)
            except UnicodeError:
                pass
        return data.decode(codec)
    except LookupError:
        note(f"unknown charset {declared[:40]!r}")
    except (UnicodeError, ValueError, TypeError):
        note(f"not valid {declared[:40]!r}")
    try:
        return data.decode("utf-8")
    except UnicodeError:
        note("decoded as cp1252")
        return data.decode("cp1252", errors="replace")


@dataclass
class _Segment:
    """One displayable stretch of body: its plain text, its HTML, or both (alternatives)."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Walk:
    """State while walking the MIME tree."""

    reader: _Reader
    max_bytes: int
    attachments: list[MailAttachment] = field(default_factory=list)


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
    except (*_RECOVERABLE, UnicodeError):
        return msg.as_string(policy=email.policy.compat32).encode("utf-8", "surrogateescape")


def _text_of(part: Message, walk: _Walk, where: str) -> str:
    data = _payload_bytes(part)
    text = _decode_text(data, _param(part, "charset"), walk.reader.noter(where))
    return clean_text(text)


def _add_attachment(part: Message, walk: _Walk, data: bytes) -> None:
    position = len(walk.attachments) + 1
    omitted = len(data) > walk.max_bytes
    walk.attachments.append(
        MailAttachment(
            filename=_sanitise_filename(_filename(part), position),
            content_type=_content_type(part),
            size=len(data),
            data=b"" if omitted else data,
            omitted=omitted,
        )
    )


def _forward_header(inner: Message, walk: _Walk) -> str:
    reader = _Reader(inner, walk.reader.defects)
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
    except _RECOVERABLE as err:
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
        _add_attachment(part, walk, _payload_bytes(part))
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
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - the policy guarantees it
        raise UnparseableMail("the parser did not return a message")
    reader = _Reader(msg)
    from_address, from_name = _from_address(reader)

    walk = _Walk(reader=reader, max_bytes=attachment_max_bytes)
    segments = _walk(msg, walk, "message")
    text = _render_text(segments)
    html_source = _render_html(segments)
    html = sanitize_html(html_source) if any(s.html is not None for s in segments) else ""
    classify_text = strip_quotes_and_signature(text) or text

    references = _message_ids(reader.raw("References") or "")[-MAX_REFERENCES:]
    return ParsedMail(
        message_id=normalise_message_id(reader.raw("Message-ID") or ""),
        in_reply_to=tuple(_message_ids(reader.raw("In-Reply-To") or "")),
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
    )
