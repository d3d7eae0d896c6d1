"""Reading the headers of hostile mail: raw values, encoded words, addresses, Message-IDs."""

from __future__ import annotations

import contextlib
import email.utils
import re
import unicodedata
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from connectors.mail.charsets import RECOVERABLE, Note, decode_words, fix_surrogates
from inbox.text import single_line

MAX_ANGLE_BRACKETED = 900
MAX_DEFECTS = 50
MAX_POLICY_ADDRESS_HEADER = 2000
MAX_ADDRESS_HEADER = 64 * 1024

_ADDR_SPEC = re.compile(r'^(?:"[^"\\\x00-\x1f\x7f]+"|[^\s@<>()\[\],;:\\"]+)@[^\s@<>()\[\],;:\\"]+$')
_ANGLE_BRACKETED = re.compile(r"<([^<>]*)>")
_MISSING = object()


def normalise_message_id(value: str) -> str:
    """``<local@domain>`` from a Message-ID value, or "" when there is none worth keeping."""
    compact = "".join(fix_surrogates(value).split())
    compact = "".join(ch for ch in compact if unicodedata.category(ch)[0] != "C")
    match = _ANGLE_BRACKETED.search(compact)
    inner = match.group(1) if match else compact
    # An id without "@" or of absurd length is more likely garbage than an id; a truncated
    # id would never match its original, so it is dropped rather than cut.
    if "@" not in inner or inner.startswith("@") or inner.endswith("@"):
        return ""
    normalised = f"<{inner}>"
    return normalised if len(normalised) <= MAX_ANGLE_BRACKETED else ""


def message_ids(value: str) -> list[str]:
    """Every Message-ID in a References/In-Reply-To value, in order and without repeats."""
    found = _ANGLE_BRACKETED.findall(value)
    candidates = [f"<{inner}>" for inner in found] if found else [value]
    ids: list[str] = []
    for candidate in candidates:
        normalised = normalise_message_id(candidate)
        if normalised and normalised not in ids:
            ids.append(normalised)
    return ids


def plausible_address(value: str) -> str:
    """The lowercased addr-spec if it looks like one, else ""."""
    address = fix_surrogates(value).strip().lower()
    if len(address) > 320 or not _ADDR_SPEC.match(address):
        return ""
    domain = address.rpartition("@")[2]
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return ""
    return address


@dataclass
class Reader:
    """Reads headers of one message defensively, noting every problem."""

    msg: Message
    defects: list[str] = field(default_factory=list)
    # The first raw value of each header by lowercased name, indexed on first use.
    _first: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def note(self, defect: str) -> None:
        if defect not in self.defects and len(self.defects) < MAX_DEFECTS:
            self.defects.append(defect)

    def noter(self, where: str) -> Note:
        """A ``note`` that says where the problem was."""
        return lambda defect: self.note(f"{where}: {defect}")

    def raw(self, name: str) -> str | None:
        """The first raw value of a header, unfolded, without any MIME decoding."""
        if self._first is None:
            first: dict[str, Any] = {}
            for key, value in self.msg.raw_items():
                first.setdefault(key.lower(), value)
            self._first = first
        value = self._first.get(name.lower(), _MISSING)
        if value is _MISSING:
            return None
        text = value if isinstance(value, str) else str(value)
        return "".join(text.replace("\r", "\n").split("\n"))

    def decoded(self, name: str) -> str | None:
        """A header with RFC 2047 encoded words decoded (with the same charset fallbacks)."""
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return decode_words(raw, self.noter(name))
        except RECOVERABLE as err:
            self.note(f"{name}: undecodable ({type(err).__name__})")
        try:
            return fix_surrogates(str(self.msg.get(name, "")))
        except RECOVERABLE:
            return fix_surrogates(raw)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, addr-spec) pairs of an address header, addr-specs not yet checked."""
        pairs: list[tuple[str, str]] = []
        raw = self.raw(name) or ""
        if len(raw) > MAX_POLICY_ADDRESS_HEADER:
            # The policy's address parser is quadratic on some input (8 KB of quotes take
            # seconds); a header this long goes to the simpler, linear legacy parser.
            self.note(f"{name}: {len(raw)} characters, parsed leniently")
            with contextlib.suppress(*RECOVERABLE):
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
        except RECOVERABLE as err:
            self.note(f"{name}: unreadable ({type(err).__name__})")
            with contextlib.suppress(*RECOVERABLE):
                pairs = email.utils.getaddresses([raw])
        return pairs

    def flag(self, name: str) -> str:
        """A header's raw value, single-line and lowercased, for flag checks."""
        return single_line(fix_surrogates(self.raw(name) or "")).lower()


def without_quotes_and_comments(value: str) -> str:
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
