"""Builds the router from config examples plus what agents taught it, and keeps it learning."""

from __future__ import annotations

import asyncio

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.embedder import Embedder, Vectors
from classifiers.router import DEFAULT_TEMPERATURE, LabelledExample, Router
from classifiers.self_training import LearnedHistory
from inbox.config.settings import Settings
from inbox.models import RoutingDecision
from inbox.store.tables import routing_examples
from inbox.text import embedding_text


class RoutingService:
    """The live router: routes batches, and learns what agents taught it, from the store.

    Corrections (a reassignment, a confirmed routing) are stored by whichever process
    serves the agent; every worker reads the new ones before its next batch, so the next
    message is routed with them, on every machine, without a restart.
    """

    def __init__(
        self,
        router: Router,
        embedder: Embedder,
        engine: AsyncEngine | None = None,
        last_example: int = 0,
    ) -> None:
        self.router = router
        self.embedder = embedder
        self.engine = engine
        self.last_example = last_example
        self._lock = asyncio.Lock()

    @classmethod
    async def build(
        cls,
        settings: Settings,
        embedder: Embedder,
        engine: AsyncEngine | None = None,
        history: LearnedHistory | None = None,
    ) -> RoutingService:
        """Encodes the configured examples and every stored correction; adds what
        ``inbox train`` learnt from the history (already encoded by this model)."""
        examples, last = await labelled_examples(settings, engine)
        vectors = await embedder.encode_async([e.text for e in examples])
        if history is not None:
            learned = history.for_teams({t.name for t in settings.teams})
            examples += learned.examples
            vectors = np.vstack([vectors, learned.vectors])
        r = settings.routing
        router = await asyncio.to_thread(
            Router,
            examples,
            vectors,
            threshold=r.threshold,
            margin=r.margin,
            fallback_team=r.fallback_team,
            min_similarity=r.min_similarity,
            evidence_examples=r.evidence_examples,
            temperature=history.temperature if history else DEFAULT_TEMPERATURE,
        )
        return cls(router, embedder, engine, last)

    def route_vectors(self, vectors: Vectors) -> list[RoutingDecision]:
        """Routes already-encoded messages."""
        return self.router.route(vectors)

    async def route_texts(self, texts: list[str]) -> list[RoutingDecision]:
        """Encodes and routes."""
        model_texts = [embedding_text("", t) for t in texts]
        return self.router.route(await self.embedder.encode_async(model_texts))

    async def catch_up(self) -> int:
        """Learns the corrections stored since the last look; returns how many."""
        if self.engine is None:
            return 0
        async with self._lock:  # one look at a time; a refit happens off the event loop
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(
                            routing_examples.c.id, routing_examples.c.team, routing_examples.c.text
                        )
                        .where(routing_examples.c.id > self.last_example)
                        .order_by(routing_examples.c.id)
                    )
                ).all()
            if not rows:
                return 0
            learned = [r for r in rows if r.team != self.router.fallback_team]
            if learned:
                vectors = await self.embedder.encode_async([r.text for r in learned])
                examples = [LabelledExample(r.team, r.text) for r in learned]
                await asyncio.to_thread(self.router.add_examples, examples, vectors)
            self.last_example = int(rows[-1].id)
            return len(learned)


async def labelled_examples(
    settings: Settings, engine: AsyncEngine | None = None
) -> tuple[list[LabelledExample], int]:
    """The configured example phrases, then every correction agents made (in order), and
    the id of the last correction read."""
    examples = [
        LabelledExample(t.name, embedding_text("", text))
        for t in settings.teams
        for text in t.examples
    ]
    last = 0
    if engine is not None:
        known = {t.name for t in settings.teams}  # never the fallback: it is no topic
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        routing_examples.c.id, routing_examples.c.team, routing_examples.c.text
                    ).order_by(routing_examples.c.id)
                )
            ).all()
        examples += [LabelledExample(r.team, r.text) for r in rows if r.team in known]
        last = int(rows[-1].id) if rows else 0
    return examples, last
