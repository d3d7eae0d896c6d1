"""The signed link that confirms an address typed into the web form (pure: no store).

``inbox.pipeline.form_confirmation`` mails it; the web form checks it when it is opened.
"""

from __future__ import annotations

from inbox.signing import Signer

PURPOSE = "form-confirm"


def confirmation_path(secret: bytes, identity_address: str) -> str:
    """The path of the signed confirmation link for one form identity."""
    return f"/form/confirm/{Signer(secret, PURPOSE).sign(identity_address)}"


def confirmed_identity(secret: bytes, token: str) -> str | None:
    """The form identity a confirmation token was made for, or None if it is not ours."""
    return Signer(secret, PURPOSE).verify(token)
