"""Server-signed tokens: a customer's web session or ticket link that nobody can guess."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs short values with HMAC-SHA256 under a purpose, so tokens don't cross uses."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = hmac.new(secret, purpose.encode(), hashlib.sha256).digest()

    def sign(self, value: str) -> str:
        """``value`` and its signature, URL-safe."""
        mac = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return f"{_b64(value.encode())}.{_b64(mac)}"

    def verify(self, token: str) -> str | None:
        """The signed value, or None if the token was not made by this signer."""
        try:
            body, mac = token.split(".", 1)
            value = _unb64(body)
            expected = hmac.new(self._key, value, hashlib.sha256).digest()
            if hmac.compare_digest(expected, _unb64(mac)):
                return value.decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return None
