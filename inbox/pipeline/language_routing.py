"""Routing the messages written in another language than English.

The router's encoder (all-MiniLM-L6-v2) is an English model: a German, French or Spanish
message lands far from every team's English phrases and goes to the fallback team. The
messages the triage's detector calls another of its configured languages are routed
again by a second router: the same phrases, corrections and settings, on the multilingual
encoder, with its own closeness bar (``[routing] multilingual_min_similarity``). English
messages, and those too short to tell, keep the first router's decision; a language team
(``languages = ["de"]``) still takes its language afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.embedder import Embedder
from inbox.config.settings import Settings
from inbox.models import RoutingDecision
from inbox.pipeline.routing import RoutingService


class LanguageRouting:
    """The second router, and the languages it routes."""

    def __init__(self, service: RoutingService, languages: frozenset[str]) -> None:
        self.service = service
        self.languages = languages

    @classmethod
    async def build(
        cls, settings: Settings, engine: AsyncEngine | None = None, embedder: Embedder | None = None
    ) -> LanguageRouting | None:
        """None when there is nothing to route again (no other language, or turned off)."""
        others = frozenset(code for code in settings.triage.languages if code != "en")
        if not others or not settings.routing.multilingual:
            return None
        if embedder is None:
            from classifiers.multilingual import shared_multilingual

            embedder = await asyncio.to_thread(shared_multilingual, settings.model.batch_size)
        bar = settings.routing.multilingual_min_similarity
        own = dataclasses.replace(settings.routing, min_similarity=bar)
        service = await RoutingService.build(
            dataclasses.replace(settings, routing=own), embedder, engine
        )
        return cls(service, others)

    async def reroute(
        self, texts: Sequence[str], decisions: list[RoutingDecision], languages: Sequence[str]
    ) -> list[RoutingDecision]:
        """``decisions`` with the messages in one of ``self.languages`` routed again."""
        chosen = [i for i, code in enumerate(languages) if code in self.languages]
        if not chosen:
            return decisions
        await self.service.catch_up()  # corrections agents made since the last batch
        vectors = await self.service.embedder.encode_async([texts[i] for i in chosen])
        routed = list(decisions)
        for i, decision in zip(chosen, self.service.route_vectors(vectors), strict=True):
            routed[i] = decision
        return routed
