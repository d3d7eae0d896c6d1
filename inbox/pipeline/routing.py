"""Builds the router from config examples plus what agents taught it, and keeps it learning."""

from __future__ import annotations

import asyncio

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.embedder import Embedder, Vectors
from classifiers.router import DEFAULT_TEMPERATURE, LabelledExample, Router
from classifiers.self_training import LearnedHistory
from inbox.config.settings import Settings
from inbox.models import RoutingDecision
from inbox.store.corrections import active_corrections, active_ids, taught_texts
from inbox.text import embedding_text


class RoutingService:
    """The live router: routes batches, and learns what agents taught it, from the store.

    Corrections (a reassignment, a confirmed routing) are stored by whichever process
    serves the agent; every worker compares the active ones with what it learnt before
    its next batch (the ids alone: cheap), learns the new or approved ones and unlearns
    the undone ones, so the next message is routed with them, on every machine, without
    a restart.
    """

    def __init__(
        self,
        router: Router,
        embedder: Embedder,
        teams: set[str],
        engine: AsyncEngine | None = None,
    ) -> None:
        self.router = router
        self.embedder = embedder
        self.teams = teams  # corrections for another team (the fallback) teach nothing
        self.engine = engine
        self.skipped: set[int] = set()  # active corrections it does not learn (see teams)
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
        examples = await labelled_examples(settings, engine)
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
        return cls(router, embedder, {t.name for t in settings.teams}, engine)

    def route_vectors(self, vectors: Vectors) -> list[RoutingDecision]:
        """Routes already-encoded messages."""
        return self.router.route(vectors)

    async def route_texts(self, texts: list[str]) -> list[RoutingDecision]:
        """Encodes and routes."""
        model_texts = [embedding_text("", t) for t in texts]
        return self.router.route(await self.embedder.encode_async(model_texts))

    async def catch_up(self) -> int:
        """Learns the corrections made active since the last look (new, or approved) and
        unlearns the undone ones; returns how many changed."""
        if self.engine is None:
            return 0
        async with self._lock:  # one look at a time; a refit happens off the event loop
            async with self.engine.connect() as conn:
                active = await active_ids(conn)
                known = self.router.corrections | self.skipped
                new = await taught_texts(conn, active - known)
            gone = known - active
            if gone:
                await asyncio.to_thread(self.router.forget, gone)
                self.skipped -= gone
            learned = [t for t in new if t.team in self.teams]
            self.skipped |= {t.correction_id for t in new if t.team not in self.teams}
            if learned:
                vectors = await self.embedder.encode_async([t.text for t in learned])
                examples = [
                    LabelledExample(t.team, t.text, correction=t.correction_id) for t in learned
                ]
                await asyncio.to_thread(self.router.add_examples, examples, vectors)
            return len(learned) + len(gone)


async def labelled_examples(
    settings: Settings, engine: AsyncEngine | None = None
) -> list[LabelledExample]:
    """The configured example phrases, then every active correction agents made (in
    order): those of the fallback team or of a team no longer configured are left out."""
    examples = [
        LabelledExample(t.name, embedding_text("", text))
        for t in settings.teams
        for text in t.examples
    ]
    if engine is not None:
        known = {t.name for t in settings.teams}  # never the fallback: it is no topic
        async with engine.connect() as conn:
            taught = await active_corrections(conn)
        examples += [
            LabelledExample(t.team, t.text, correction=t.correction_id)
            for t in taught
            if t.team in known
        ]
    return examples
