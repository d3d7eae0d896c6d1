"""Routing in other languages: the German, French and Spanish test set, and its score.

The messages (``data/routing_languages.toml``) are written for the default teams of
config.toml, 24 per team in each language; the router learns only the configured English
phrases, so these measure how well the encoder carries a message across languages. A
message routed to the fallback team (the router abstained) counts as a miss.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inbox.errors import ConfigError

LANGUAGE_SET = Path(__file__).with_name("data") / "routing_languages.toml"


@dataclass(frozen=True)
class LanguageMessage:
    """One test message: its language (ISO 639-1), the team it belongs to, its text."""

    language: str
    team: str
    text: str


@dataclass(frozen=True)
class Tally:
    """How many messages of one language and team went to their team."""

    language: str
    team: str
    right: int
    total: int

    @property
    def accuracy(self) -> float:
        """The share routed to the right team."""
        return self.right / self.total if self.total else 0.0


def read_language_set(path: Path = LANGUAGE_SET) -> list[LanguageMessage]:
    """The messages, in file order: a table per language, a list of texts per team."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    messages: list[LanguageMessage] = []
    for language, teams in raw.items():
        if not isinstance(teams, dict):
            raise ConfigError(f"{path}: [{language}] must be a table of teams")
        for team, texts in teams.items():
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ConfigError(f"{path}: {language}.{team} must be a list of texts")
            messages += [LanguageMessage(language, team, text) for text in texts]
    return messages


def tally(messages: Sequence[LanguageMessage], routed: Sequence[str]) -> list[Tally]:
    """Right answers per language and team, ``routed`` being the team each message got."""
    if len(messages) != len(routed):
        raise ValueError("one routed team per message is needed")
    counts: dict[tuple[str, str], list[int]] = {}
    for message, team in zip(messages, routed, strict=True):
        right_total = counts.setdefault((message.language, message.team), [0, 0])
        right_total[0] += message.team == team
        right_total[1] += 1
    return [Tally(lang, team, right, total) for (lang, team), (right, total) in counts.items()]
