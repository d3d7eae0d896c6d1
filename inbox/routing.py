"""Builds the router from config examples plus what agents taught it, and keeps it learning."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.embedder import Embedder, Vectors
from classifiers.router import LabelledExample, Router
from inbox.config import Settings
from inbox.models import RoutingDecision
from inbox.store.tables import routing_examples
from inbox.text import embedding_text


class RoutingService:
    """The live router: routes batches, and learns an agent's correction at once."""

    def __init__(self, router: Router, embedder: Embedder) -> None:
        self.router = router
        self.embedder = embedder
        self._lock = asyncio.Lock()

    @classmethod
    async def build(
        cls, settings: Settings, embedder: Embedder, engine: AsyncEngine | None = None
    ) -> RoutingService:
        """Encodes the configured examples and every stored correction."""
        examples = await labelled_examples(settings, engine)
        vectors = await embedder.encode_async([e.text for e in examples])
        r = settings.routing
        router = Router(
            examples,
            vectors,
            threshold=r.threshold,
            margin=r.margin,
            fallback_team=r.fallback_team,
            min_similarity=r.min_similarity,
            evidence_examples=r.evidence_examples,
        )
        return cls(router, embedder)

    def route_vectors(self, vectors: Vectors) -> list[RoutingDecision]:
        """Routes already-encoded messages."""
        return self.router.route(vectors)

    async def route_texts(self, texts: list[str]) -> list[RoutingDecision]:
        """Encodes and routes."""
        model_texts = [embedding_text("", t) for t in texts]
        return self.router.route(await self.embedder.encode_async(model_texts))

    async def learn(self, team: str, text: str) -> None:
        """Adds a labelled example; the next message is routed with it."""
        if team == self.router.fallback_team:
            return
        vector = await self.embedder.encode_async([text])
        async with self._lock:  # one refit at a time, off the event loop
            await asyncio.to_thread(self.router.add_example, LabelledExample(team, text), vector[0])


async def labelled_examples(
    settings: Settings, engine: AsyncEngine | None = None
) -> list[LabelledExample]:
    """The configured example phrases, then every correction agents made (in order)."""
    examples = [
        LabelledExample(t.name, embedding_text("", text))
        for t in settings.teams
        for text in t.examples
    ]
    if engine is not None:
        known = {t.name for t in settings.teams}  # never the fallback: it is no topic
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(routing_examples.c.team, routing_examples.c.text).order_by(
                        routing_examples.c.id
                    )
                )
            ).all()
        examples += [LabelledExample(r.team, r.text) for r in rows if r.team in known]
    return examples
