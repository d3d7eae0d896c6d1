"""Messages in German, French and Spanish reach their team (issue 21): the triage's
detector names the language, and the multilingual router routes them again from the same
English phrases; English messages keep MiniLM's decision. Through the running service:
a German form message is filed with billing, no longer with triage."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from classifiers.embedder import SentenceTransformerEmbedder
from inbox.config.settings import Settings
from inbox.pipeline.language_routing import LanguageRouting
from inbox.pipeline.routing import RoutingService
from inbox.service.app import InboxService
from tests.support.routing import filed
from tests.support.staff_web import person

MESSAGES = {  # the text, its language, the team it is for
    "Hallo, mir wurde mein Abo diesen Monat zweimal abgebucht": ("de", "billing"),
    "Bonjour, mon colis n'est toujours pas arrivé depuis deux semaines": ("fr", "orders"),
    "No puedo iniciar sesión, el enlace para cambiar la contraseña no funciona": (
        "es",
        "accounts",
    ),
    "I was charged twice for the same month": ("en", "billing"),
}


def test_messages_in_other_languages_are_routed_again_english_ones_are_not(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    texts = list(MESSAGES)
    first = asyncio.run(RoutingService.build(settings, embedder))
    today = first.route_vectors(embedder.encode(texts))
    assert [d.team for d in today[:3]] == ["triage"] * 3  # MiniLM: too far from every phrase
    languages = asyncio.run(LanguageRouting.build(settings))
    assert languages is not None and languages.languages == {"de", "fr", "es"}
    detected = [language for language, _team in MESSAGES.values()]
    routed = asyncio.run(languages.reroute(texts, today, detected))
    assert [d.team for d in routed] == [team for _language, team in MESSAGES.values()]
    assert routed[3] is today[3]  # English: the first router's decision, untouched


def test_turned_off_or_english_only_there_is_no_second_router(settings: Settings) -> None:
    off = dataclasses.replace(
        settings, routing=dataclasses.replace(settings.routing, multilingual=False)
    )
    assert asyncio.run(LanguageRouting.build(off)) is None
    english = dataclasses.replace(
        settings, triage=dataclasses.replace(settings.triage, languages=("en",))
    )
    assert asyncio.run(LanguageRouting.build(english)) is None


@pytest.mark.both_backends
async def test_a_german_form_message_is_filed_with_its_team(
    settings: Settings, service_factory: Callable[[Settings], Awaitable[InboxService]]
) -> None:
    service = await service_factory(settings)
    token = await person(service, "ada")
    conversation = await filed(service, token, "jonas@example.de", next(iter(MESSAGES)))
    assert conversation["team"] == "billing"
