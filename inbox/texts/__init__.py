"""What the product says to customers, in their language: the texts by name (``keys``),
one module per shipped language, the catalogue that looks them up with a shop's own
wording over them, and how a customer's language is chosen.

Nothing is translated at run time: every text is written here (or in config.toml) in
each language, and an agent's own words are never touched.
"""

from __future__ import annotations

from inbox.texts.catalogue import Catalogue, Overrides, Wording, check_override
from inbox.texts.keys import CHAT_KEYS, CHOICE_KEYS, PLACEHOLDERS, Key
from inbox.texts.languages import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    SHIPPED_LANGUAGES,
    customer_language,
    from_accept_language,
    supported,
)

__all__ = [
    "CHAT_KEYS",
    "CHOICE_KEYS",
    "DEFAULT_LANGUAGE",
    "LANGUAGE_NAMES",
    "PLACEHOLDERS",
    "SHIPPED_LANGUAGES",
    "Catalogue",
    "Key",
    "Overrides",
    "Wording",
    "check_override",
    "customer_language",
    "from_accept_language",
    "supported",
]
