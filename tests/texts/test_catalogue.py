"""The customer texts: every language complete, placeholders filled safely, a shop's own
wording from config.toml checked at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inbox.config.settings import parse_settings
from inbox.errors import ConfigError
from inbox.pipeline.ingest.acknowledge import acknowledgement_text
from inbox.texts import (
    PLACEHOLDERS,
    SHIPPED_LANGUAGES,
    Catalogue,
    Key,
    customer_language,
    from_accept_language,
)
from inbox.texts.catalogue import SHIPPED
from inbox.texts.formatting import placeholders_of
from tests.support.config import make_raw_config


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_every_language_has_every_text_with_its_placeholders(language: str) -> None:
    texts = SHIPPED[language]
    assert set(texts) == set(Key)
    for key, template in texts.items():
        assert template.strip(), key
        assert placeholders_of(template) == PLACEHOLDERS[key], (language, key)


def test_other_languages_are_written_not_copied_from_english() -> None:
    english = SHIPPED["en"]
    for language in ("de", "fr", "es"):
        same = {k for k, v in SHIPPED[language].items() if v == english[k]}
        # Only words that are the same in both languages ("Ticket", "Neutral", ...).
        alike = {Key.TICKET, Key.MESSAGE, Key.FORM_MESSAGE, Key.SCORE_3, Key.CHAT_CONVERSATION}
        assert same <= alike | {Key.SPAN_MINUTES}, same


def test_hostile_braces_in_values_pass_unchanged() -> None:
    hostile = "{reference} {0} {__class__.__mro__} {{ }} {name!r:>99}"
    texts = Catalogue()
    said = texts.text("en", Key.START_NAMED, name=hostile, help="/status")
    assert said == f"Hello {hostile}! This is our support desk.\n\n/status"
    # A team display name from config.toml is a value too, never a template.
    ack = texts.text("de", Key.TEAM_NAMED, team="{team} {x}")
    assert ack == "Das Team {team} {x}"


def test_a_language_without_texts_reads_english() -> None:
    texts = Catalogue()
    assert texts.text("it", Key.STATUS_NONE_OPEN) == "You have no open tickets."
    assert texts.text("", Key.STATUS_NONE_OPEN) == "You have no open tickets."
    assert texts.text("es-MX", Key.STATUS_NONE_OPEN) == "No tiene tickets abiertos."


def test_browser_language_by_preference_among_the_shipped() -> None:
    assert from_accept_language("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7") == "fr"
    assert from_accept_language("it-IT, de;q=0.5, en;q=0.4") == "de"
    assert from_accept_language("en;q=0.2, es;q=0.9") == "es"
    assert from_accept_language("zh-CN, ja") == ""
    assert from_accept_language("") == ""
    assert from_accept_language("de;q=0, *;q=0.5") == ""
    assert from_accept_language("garbage;;,,; q=x") == ""


def test_customer_language_detected_then_kept_then_browser_then_english() -> None:
    assert customer_language("de", "fr", "es") == "de"
    assert customer_language("", "fr", "es") == "es"
    assert customer_language("", "fr", "") == "fr"
    assert customer_language("", "", "") == "en"
    assert customer_language("it", "pt", "") == "en"  # detected, but no texts in it


def _settings(tmp_path: Path, texts: dict[str, Any]) -> Catalogue:
    raw = make_raw_config(tmp_path)
    raw["texts"] = texts
    return parse_settings(raw, tmp_path).texts


def test_an_override_changes_the_english_acknowledgement(tmp_path: Path) -> None:
    own = "Hi! Ticket {reference} is ours now. {who} {when} Cheers, the shop"
    texts = _settings(tmp_path, {"en": {"acknowledgement": own}})
    settings = parse_settings(make_raw_config(tmp_path), tmp_path)
    team = settings.team("billing")
    said = acknowledgement_text(texts, "en", 7, team, False, 3600.0, False)
    assert (
        said
        == "Hi! Ticket #7 is ours now. The Billing team usually answers within 1 hour. Cheers, the shop"
    )
    # Other languages and other texts keep the shipped wording.
    german = acknowledgement_text(texts, "de", 7, team, False, 3600.0, False)
    assert german.startswith("Vielen Dank, Ihre Nachricht ist bei uns angekommen.")
    assert texts.text("en", Key.FOLLOW_UP, reference="#7").startswith("Thank you, we have added")


def test_an_override_may_leave_placeholders_out_and_write_braces(tmp_path: Path) -> None:
    texts = _settings(tmp_path, {"de": {"follow_up": "Danke {{gern}}! Alles bei uns."}})
    assert texts.text("de", Key.FOLLOW_UP, reference="#3") == "Danke {gern}! Alles bei uns."


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"it": {"acknowledgement": "Grazie"}}, r"texts\.it: no texts in language 'it'"),
        (
            {"de": {"acknowledgment": "Danke"}},
            r"texts\.de\.acknowledgment: 'acknowledgment' is not",
        ),
        (
            {"en": {"acknowledgement": "Ticket {ticket}"}},
            r"texts\.en\.acknowledgement: placeholder \{ticket\} is not offered .*\{reference\}",
        ),
        (
            {"en": {"follow_up": "Ticket {reference.__class__}"}},
            r"texts\.en\.follow_up: .*plain word",
        ),
        ({"en": {"follow_up": "Ticket {0}"}}, r"texts\.en\.follow_up: .*plain word"),
        ({"en": {"follow_up": "Ticket {reference:>9}"}}, r"texts\.en\.follow_up: .*format"),
        ({"en": {"follow_up": "Ticket {reference"}}, r"texts\.en\.follow_up: "),
        ({"en": {"follow_up": ""}}, r"texts\.en\.follow_up: must be a non-empty string"),
        ({"en": {"follow_up": 3}}, r"texts\.en\.follow_up: must be a non-empty string"),
        ({"en": "Hello"}, r"texts\.en: must be a table"),
    ],
)
def test_a_wrong_override_stops_start_up_naming_it(
    tmp_path: Path, texts: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(tmp_path, texts)
