"""Text helpers shared by connectors and the worker: cleaning, hashing, ticket references."""

from __future__ import annotations

import hashlib
import re
import unicodedata

REFERENCE_PATTERN = re.compile(r"(?<![\w#])#(\d{4,9})\b")
MAX_EMBED_CHARS = 2000
DIGIT_RUN = re.compile(r"#?\d{3,}")
_CONTROL = {c for c in map(chr, range(32)) if c not in "\n\t"} | {"\x7f"}


def valid_unicode(text: str) -> str:
    """The text with every lone surrogate replaced by U+FFFD (and split pairs joined).

    JSON (``"\\udc80"``) and Python's decoders can hand over surrogates that no UTF-8
    store, file or socket accepts: left in, they fail whatever writes them later.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_text(text: str) -> str:
    """Drops control characters (keeping newlines and tabs), replaces lone surrogates and
    normalises Unicode."""
    text = valid_unicode(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch not in _CONTROL).strip()


def single_line(text: str) -> str:
    """Collapses all whitespace, CR and LF included, so a value can never span lines."""
    return " ".join(clean_text(text).split())


def content_hash(subject: str, text: str) -> str:
    """A hash of what a message says, blind to case and spacing, for exact dedup."""
    canonical = " ".join(f"{subject}\n{text}".lower().split())
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_references(*texts: str) -> list[int]:
    """Ticket references (``#1042``) quoted in the texts, in order of appearance."""
    found: list[int] = []
    for text in texts:
        for match in REFERENCE_PATTERN.finditer(text):
            ref = int(match.group(1))
            if ref not in found:
                found.append(ref)
    return found


def format_reference(reference: int) -> str:
    """The customer-facing ticket reference."""
    return f"#{reference}"


def embedding_text(subject: str, text: str) -> str:
    """What the model reads of a message: the subject, then the start of the body.

    Long digit runs (order numbers, ticket references) become one word: they carry no
    intent, and masking them measurably helps the router (see docs/BENCHMARKS.md).
    """
    combined = f"{subject}\n{text}" if subject else text
    return DIGIT_RUN.sub("number", combined[:MAX_EMBED_CHARS])
