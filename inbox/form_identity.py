"""The address of a web form sender's identity, ``<typed email>#<key digest>``.

``connectors.submitters`` says why a form sender is the pair of the address they typed and
a key only they hold. This module alone writes and reads that address; everyone else asks it.
"""

from __future__ import annotations

IDENTITY_CHANNEL = "form"
_SEPARATOR = "#"


def form_identity_address(email: str, tag: str) -> str:
    """The identity address of the sender who typed ``email`` and holds the key ``tag`` names."""
    return f"{email}{_SEPARATOR}{tag}"


def typed_address(identity_address: str) -> str:
    """The address a form sender typed (the part before the key digest). The digest never
    holds the separator, but an address may ("a#b@example.com" is a valid one)."""
    typed, separator, _tag = identity_address.rpartition(_SEPARATOR)
    return typed if separator else identity_address


def submitter_tag(identity_address: str) -> str:
    """The digest of the sender's key (the part after the typed address)."""
    return identity_address.rsplit(_SEPARATOR, 1)[-1]


def shown_address(channel: str, address: str) -> str:
    """An identity's address as an agent reads it: for a form sender, what they typed."""
    return typed_address(address) if channel == IDENTITY_CHANNEL else address
