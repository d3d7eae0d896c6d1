"""Whether a mail was sent by a machine (an auto-reply, a list, a bounce), and which of
our mails a report names, so nobody answers machine mail in a loop.
"""

from __future__ import annotations

import contextlib
import re
from email.message import Message

from connectors.mail.charsets import RECOVERABLE
from connectors.mail.headers import Reader, message_ids
from connectors.mail.parts import part_bytes, part_param, part_type

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


def automated_reason(reader: Reader, from_address: str) -> str:
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
    content_type = part_type(reader.msg)
    if content_type == "multipart/report":
        report_type = part_param(reader.msg, "report-type").lower()
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


def reported_ids(msg: Message) -> tuple[str, ...]:
    """The Message-IDs a ``multipart/report`` names as the mail it reports on."""
    if part_type(msg) != "multipart/report":
        return ()
    payload = msg.get_payload()
    found: list[str] = []
    for part in payload if isinstance(payload, list) else []:
        if not isinstance(part, Message) or part_type(part) not in _REPORT_ORIGINALS:
            continue
        with contextlib.suppress(*RECOVERABLE):
            match = _REPORTED_ID.search(part_bytes(part)[:65536])
            if match:
                found += message_ids(match.group(1).decode("ascii", "replace"))
    return tuple(dict.fromkeys(found))
