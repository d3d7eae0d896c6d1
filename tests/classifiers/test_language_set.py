"""The German, French and Spanish routing test set reads, and covers every default team."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from classifiers.evaluation.languages import LanguageMessage, read_language_set, tally
from inbox.config.settings import load_settings
from inbox.errors import ConfigError
from tests.support.paths import ROOT


def test_every_default_team_has_24_messages_in_each_language() -> None:
    messages = read_language_set()
    teams = {team.name for team in load_settings(ROOT / "config.toml").teams}
    counts = Counter((m.language, m.team) for m in messages)
    assert {language for language, _ in counts} == {"de", "fr", "es"}
    assert {team for _, team in counts} == teams
    assert all(counts[(language, team)] >= 24 for language in ["de", "fr", "es"] for team in teams)


def test_no_message_is_twice_in_the_set_or_a_configured_phrase() -> None:
    texts = [m.text for m in read_language_set()]
    configured = {x for team in load_settings(ROOT / "config.toml").teams for x in team.examples}
    assert len(set(texts)) == len(texts)
    assert not configured & set(texts)


def test_tally_counts_right_answers_per_language_and_team() -> None:
    messages = [
        LanguageMessage("de", "billing", "a"),
        LanguageMessage("de", "billing", "b"),
        LanguageMessage("fr", "orders", "c"),
    ]
    tallies = tally(messages, ["billing", "triage", "orders"])
    assert [(t.language, t.team, t.right, t.total) for t in tallies] == [
        ("de", "billing", 1, 2),
        ("fr", "orders", 1, 1),
    ]
    assert tallies[0].accuracy == 0.5


def test_a_team_that_is_not_a_list_of_texts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "set.toml"
    path.write_text('[de]\nbilling = "one text"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"de\.billing"):
        read_language_set(path)
