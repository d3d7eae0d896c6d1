"""Message-IDs of the email we send, and the keys that thread replies to them.

An answer's Message-ID is derived from its outbox row and signed, so a retried send
reuses it, and a reply's ``In-Reply-To`` leads back to the ticket without a look-up
and without trusting what a stranger wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_OURS = re.compile(r"^<inbox\.(\d{1,12})\.(\d{1,15})\.([0-9a-f]{16})@[^<>@\s]+>$")


def _tag(secret: bytes, reference: int, outbox_id: int) -> str:
    mac = hmac.new(secret, f"message-id:{reference}.{outbox_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def outbound_message_id(secret: bytes, reference: int, outbox_id: int, domain: str) -> str:
    """The Message-ID of the answer in outbox row ``outbox_id`` on ticket ``reference``."""
    return f"<inbox.{reference}.{outbox_id}.{_tag(secret, reference, outbox_id)}@{domain}>"


def reference_in_message_id(secret: bytes, message_id: str) -> int | None:
    """The ticket an answer of ours belonged to, if ``message_id`` is one of ours."""
    match = _OURS.match(message_id.strip())
    if match is None:
        return None
    reference, outbox_id = int(match.group(1)), int(match.group(2))
    if hmac.compare_digest(match.group(3), _tag(secret, reference, outbox_id)):
        return reference
    return None


def thread_key(message_id: str) -> str:
    """A fixed-size key for any Message-ID (they can be long, and are case-blind in part)."""
    return hashlib.sha256(message_id.strip().lower().encode("utf-8", "replace")).hexdigest()
