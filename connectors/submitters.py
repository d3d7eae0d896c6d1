"""Who sent a web form message, as far as the form can tell.

An address typed into a form proves nothing: anybody can type anybody's address. So a
form message is not filed under that address's customer. Its sender is the pair of the
typed address and a *submitter key* that only the sender holds:

- a browser that submitted before sends back the signed cookie it was given, so one
  person's submissions from one browser are one customer (a quoted ticket number joins
  their own ticket; the same text twice is one ticket);
- a client without that cookie (a script, another browser) gets a key derived from what
  it sent (address, idempotency key and text), so an exact retry lands on the same
  receipt, while somebody reusing a customer's idempotency key with other words does not.

The identity ``("form", "ann@example.com#<key digest>")`` is never merged with the
email customer ``ann@example.com`` by itself: only when its sender confirms the link
mailed to that address (``inbox.pipeline.form_confirmation``). Until then an agent may merge a
message of it into that customer's ticket, and the desk shows the address as not verified.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from inbox.form_identity import form_identity_address, submitter_tag
from inbox.signing import Signer

COOKIE = "inbox_form"
COOKIE_MAX_AGE = 180 * 86400  # a returning customer's browser is still theirs


@dataclass(frozen=True)
class Submitter:
    """The sender of one form message: the typed address and the key only they hold."""

    email: str
    key: str

    @property
    def address(self) -> str:
        """The identity's address: the typed email and a digest of the key."""
        return form_identity_address(self.email, self.tag)

    @property
    def tag(self) -> str:
        """A short digest of the key: it names the sender without revealing the key."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    def external_id(self, idempotency_key: str, content: str) -> str:
        """The message's id: the same retry gets the same id, anything else a new one."""
        if not idempotency_key:
            return f"form:{self.tag}:{secrets.token_hex(16)}"
        scoped = f"{self.address}\n{idempotency_key}\n{content}".encode()
        return f"form:{self.tag}:{hashlib.sha256(scoped).hexdigest()[:32]}"


class Submitters:
    """Issues and recognises submitter keys (the cookie is signed by the server)."""

    def __init__(self, secret: bytes) -> None:
        self._cookies = Signer(secret, "form-submitter")
        self._derive = hmac.new(secret, b"form-submitter-derived", hashlib.sha256).digest()

    def identify(
        self, cookie: str | None, email: str, idempotency_key: str, content: str
    ) -> Submitter:
        """The submitter of a message: the browser's key when it has a valid cookie, else
        one derived from the message (stable across exact retries), else a fresh one."""
        key = self._cookies.verify(cookie) if cookie else None
        if key is None and idempotency_key:
            what = f"{email}\n{idempotency_key}\n{content}".encode()
            key = hmac.new(self._derive, what, hashlib.sha256).hexdigest()[:32]
        return Submitter(email, key or secrets.token_hex(16))

    def cookie(self, submitter: Submitter) -> str:
        """The signed cookie value that lets this browser be the same submitter again."""
        return self._cookies.sign(submitter.key)


def external_id_prefix(identity_address: str) -> str:
    """The prefix of every message id this form identity sent."""
    return f"form:{submitter_tag(identity_address)}:"
