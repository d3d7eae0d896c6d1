"""Which language a customer is written to in: their message's, their browser's, or the
one kept on them; English when nothing says."""

from __future__ import annotations

import re

SHIPPED_LANGUAGES = ("en", "de", "fr", "es")
"""ISO 639-1 codes of the languages every text is written in."""
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
"""Each shipped language as an agent reads it."""

_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def supported(code: str) -> str:
    """``code``'s language when texts are written in it (``"de"`` for ``"de-AT"``), else ""."""
    primary = code.strip().split("-")[0].split("_")[0].lower()
    return primary if primary in SHIPPED_LANGUAGES else ""


def from_accept_language(header: str) -> str:
    """The browser's most preferred language among the shipped ones (``Accept-Language``,
    by its q-values), or "" when it names none of them."""
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")[:32]):
        match = _RANGE.match(item)
        if match is None:
            continue
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        code = supported(match.group(1))
        if code and weight > 0:
            ranked.append((-weight, i, code))
    return min(ranked)[2] if ranked else ""


def customer_language(detected: str, hint: str, kept: str) -> str:
    """The language to write to a customer in.

    ``detected``: the language their message was confidently detected in ("" when it was
    too short to tell); ``hint``: their browser's or chat app's language; ``kept``: the one
    kept on them from before. A detected language wins, then the kept one (an earlier
    message said it), then the hint, then English.
    """
    for code in (detected, kept, hint):
        if supported(code):
            return supported(code)
    return DEFAULT_LANGUAGE
