"""Who a chat visitor is, when the site they chat from says so and proves it.

A site that signs its users in passes the signed-in user to the chat (``user_id``, and
optionally ``email`` and ``name``) with ``user_hash``: an HMAC-SHA256, in hex, made with a
secret only the site and the inbox know (``[channels.chat] identity_secret_env``) of

- ``user_id`` when no email is given;
- ``user_id + "\\n" + email`` when one is, byte for byte as passed (UTF-8).

The email is signed because it decides whose history the chat joins: an unsigned one would
let anyone read a stranger's conversations by typing their address. A ``user_id`` may not
hold a line break, so the two forms never collide. The ``name`` is not signed: it is what
the visitor is called, like the name a visitor types, never who they are.

A verified visitor's session is derived from their ``user_id`` with the server's own
secret, so the same user gets the same conversation in any browser; nobody can derive it
without that secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from connectors.webform import EMAIL_PATTERN
from inbox.text import single_line

IDENTITY_FIELDS = ("user_id", "email", "user_hash")  # any of them asks to be recognised
MAX_USER_ID_CHARS = 200
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class SiteVisitor:
    """A site's signed-in user, as their ``user_hash`` proved them."""

    user_id: str
    email: str  # lower-cased; "" when the site gave none
    name: str  # "" when the site gave none


class IdentityRefused(Exception):
    """The identity a page passed cannot be trusted; ``reason`` says why, for the site."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatIdentities(Protocol):
    """Joining a verified visitor's chat session to their customer (the store's side)."""

    async def bind(self, session: str, email: str, name: str) -> None:
        """Makes the chat identity ``session`` verified and the customer's: the one of
        ``email`` when given, with every conversation they had, on any channel; a customer
        without a name gets ``name``. Idempotent: the same call again changes nothing."""
        ...


def signed_text(user_id: str, email: str) -> str:
    """What ``user_hash`` signs: the user id, and the email on a line of its own if any."""
    return f"{user_id}\n{email}" if email else user_id


def user_hash(secret: str, user_id: str, email: str = "") -> str:
    """The hex HMAC-SHA256 a site sends with its user (the same the site computes)."""
    text = signed_text(user_id, email)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def user_session(server_secret: bytes, user_id: str) -> str:
    """The chat session of a verified user: stable, and not derivable without the server's
    secret (it reads like a random session id)."""
    key = hmac.new(server_secret, b"chat-user-session", hashlib.sha256).digest()
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:32]


def _text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise IdentityRefused(f"{name} must be text")
    return value


def asks_identity(fields: Mapping[str, object]) -> bool:
    """Whether the page passed any identity field (a name alone is no identity)."""
    return any(fields.get(name) not in (None, "") for name in IDENTITY_FIELDS)


def verify_visitor(secret: str, fields: Mapping[str, object]) -> SiteVisitor | None:
    """The site's user, if ``fields`` carry one whose ``user_hash`` is right; None when
    they carry no identity at all. Raises ``IdentityRefused`` for anything else."""
    if not asks_identity(fields):
        return None
    if not secret:
        raise IdentityRefused("this inbox does not verify signed-in users (no identity secret)")
    user_id, email, given = (_text(fields, name) for name in IDENTITY_FIELDS)
    if not user_id:
        raise IdentityRefused("user_id is missing: user_hash is made from it")
    if len(user_id) > MAX_USER_ID_CHARS or not user_id.isprintable():
        raise IdentityRefused(
            f"user_id must be at most {MAX_USER_ID_CHARS} printable characters, on one line"
        )
    if not given:
        raise IdentityRefused("user_hash is missing")
    # Bytes: compare_digest refuses a str with non-ASCII characters in it.
    if not hmac.compare_digest(user_hash(secret, user_id, email).encode(), given.lower().encode()):
        signed = "user_id and email" if email else "user_id"
        raise IdentityRefused(f"user_hash is not the HMAC-SHA256 of {signed}")
    address = email.strip().lower()
    if email and not EMAIL_PATTERN.match(address):
        raise IdentityRefused("email is not a plain address like ann@example.com")
    name = single_line(_text(fields, "name"))[:MAX_NAME_CHARS]
    return SiteVisitor(user_id=user_id, email=address, name=name)
