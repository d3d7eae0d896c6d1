"""Who sent a mail, to whom, and when: From, To/Cc and Date, read leniently."""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import re
from dataclasses import dataclass

from connectors.mail.charsets import RECOVERABLE, decode_words, fix_surrogates
from connectors.mail.headers import Reader, plausible_address, without_quotes_and_comments
from connectors.mail.parsed import UnparseableMail
from inbox.text import single_line

MAX_NAME = 200

_ANGLE_BRACKETED = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True)
class Sender:
    """The From address (lower case addr-spec) and its display name ("" without one)."""

    address: str
    name: str


def sender(reader: Reader) -> Sender:
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
    return Sender(address, single_line(fix_surrogates(name))[:MAX_NAME])


def recipients(reader: Reader) -> tuple[str, ...]:
    """The distinct addresses in To and Cc, in order."""
    found: list[str] = []
    for name in ("To", "Cc"):
        for _, addr_spec in reader.addresses(name):
            address = plausible_address(addr_spec)
            if address and address not in found:
                found.append(address)
    return tuple(found)


def sent_at(reader: Reader) -> float | None:
    """The Date header as a timestamp (None when missing or unreadable)."""
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
