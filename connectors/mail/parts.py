"""Reading one MIME part leniently: its type, parameters, disposition, file name and bytes.

A header the standard library cannot read yields a harmless default, never an exception.
"""

from __future__ import annotations

import contextlib
import email.header
import email.policy
import email.utils
import re
from email.message import Message

from connectors.mail.charsets import RECOVERABLE, fix_surrogates

_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")


def part_type(part: Message) -> str:
    try:
        content_type = part.get_content_type().lower()
    except RECOVERABLE:
        return "application/octet-stream"
    return content_type if _CONTENT_TYPE.match(content_type) else "application/octet-stream"


def part_param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except RECOVERABLE:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return fix_surrogates(value) if isinstance(value, str) else ""


def part_disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except RECOVERABLE:
        return ""


def part_filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except RECOVERABLE:
        name = ""
    if not name:
        name = part_param(part, "name")
    if "=?" in name:
        with contextlib.suppress(*RECOVERABLE):
            name = str(email.header.make_header(email.header.decode_header(name)))
    return fix_surrogates(name)


def part_bytes(part: Message) -> bytes:
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
