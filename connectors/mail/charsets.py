"""Turning the bytes and encoded words of hostile mail into text, whatever they claim to be."""

from __future__ import annotations

import codecs
import email.errors
import email.header
import re
from collections.abc import Callable

# What a header or part read can raise on malformed input: LookupError (unknown charset,
# IndexError inside the header parser), ValueError (UnicodeError, binascii.Error), the email
# package's own errors, the odd TypeError/AttributeError from a value of the wrong shape, and
# the AssertionError the stdlib's parsers still use for "cannot happen" states.
RECOVERABLE = (
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
_SURROGATE = re.compile("[\ud800-\udfff]")

Note = Callable[[str], None]
"""Records one problem found while reading a mail."""


def fix_surrogates(value: str) -> str:
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


def decode_text(data: bytes, charset: str, note: Note) -> str:
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


def decode_words(raw: str, note: Note) -> str:
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
            decoded.append(decode_text(piece, charset, note))
    return fix_surrogates("".join(decoded))
