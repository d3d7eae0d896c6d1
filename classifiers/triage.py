"""Triage: a priority from urgency (phrases and meaning), anger and the customer's tier;
the language; and whether a message is spam. Every decision carries its reasons."""

from __future__ import annotations

import re
from collections.abc import Sequence

from classifiers.meaning import Match
from inbox.models import Priority, TriageDecision


def _phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class Triage:
    """Sets a priority: urgent phrases → urgent, high phrases or a VIP customer → high."""

    def __init__(
        self,
        urgent_phrases: Sequence[str],
        high_phrases: Sequence[str],
        vip_contacts: Sequence[str],
    ) -> None:
        self._urgent = _phrase_pattern(urgent_phrases)
        self._high = _phrase_pattern(high_phrases)
        self._vip_addresses = {v for v in vip_contacts if not v.startswith("@")}
        self._vip_domains = tuple(v for v in vip_contacts if v.startswith("@"))

    def is_vip(self, address: str) -> bool:
        """True if the address, or its domain (``@example.com``), is listed as VIP."""
        address = address.lower()
        return address in self._vip_addresses or address.endswith(self._vip_domains)

    def assess(
        self,
        subject: str,
        text: str,
        address: str,
        meaning: dict[str, Match] | None = None,
        language: str = "",
    ) -> TriageDecision:
        """The priority of one message and why; ``meaning`` holds what it is close to
        (urgent, negative, spam), ``language`` what it is written in."""
        meaning = meaning or {}
        content = f"{subject}\n{text}"
        reasons: list[str] = []
        if "spam" in meaning:
            spam = meaning["spam"].reason()
            return TriageDecision(Priority.LOW, (spam,), language=language, spam=spam)
        priority = Priority.NORMAL
        if "urgent" in meaning:
            priority = Priority.URGENT
            reasons.append(meaning["urgent"].reason())
        if "negative" in meaning:
            priority = max(priority, Priority.HIGH)
            reasons.append(meaning["negative"].reason())
        if self._urgent is not None and (match := self._urgent.search(content)):
            priority = Priority.URGENT
            reasons.append(f"urgent phrase: {match.group(0).lower()!r}")
        if self._high is not None and (match := self._high.search(content)):
            priority = max(priority, Priority.HIGH)
            reasons.append(f"high-priority phrase: {match.group(0).lower()!r}")
        if self.is_vip(address):
            priority = max(priority, Priority.HIGH)
            reasons.append("VIP customer")
        return TriageDecision(priority=priority, reasons=tuple(reasons), language=language)
