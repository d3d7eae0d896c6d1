"""The live knowledge base for the worker: which article would answer each message, and
what a customer's reply to a bot answer says — both on the vectors the worker has.

Articles are published and retired in the web app by whichever process serves the
agent; every worker looks, before its next batch, whether the published set changed (one
small query) and rebuilds its index when it did, so a published article answers the next
message, on every machine, without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.answers import AnswerDecision, AnswerIndex
from classifiers.embedder import Embedder, Vectors
from classifiers.meaning import MeaningTriage
from inbox.bot_words import Verdict, exact_verdict
from inbox.config.decisions import KbSettings
from inbox.customer_links import CustomerLinks
from inbox.store.kb import KnowledgeBase, StoredArticle
from inbox.store.tables import kb_articles
from inbox.text import embedding_text
from inbox.texts import Catalogue

log = logging.getLogger(__name__)
# A reply this long, or one that asks something, is more than a yes: a new question.
MAX_PLAIN_REPLY_WORDS = 12


@dataclass(frozen=True)
class Candidate:
    """The article that would answer a message, and the decision that chose it."""

    decision: AnswerDecision
    article: StoredArticle | None  # None when the decision abstains


class AnswerService:
    """The published articles' index, kept current, and the reader of replies."""

    def __init__(
        self,
        settings: KbSettings,
        embedder: Embedder,
        engine: AsyncEngine | None,
        replies: MeaningTriage | None,
        links: CustomerLinks,
        texts: Catalogue | None = None,
    ) -> None:
        self.links = links  # shared with the web app: its public address may change
        self.texts = texts or Catalogue()  # the choices' words, a shop's own included
        self.settings = settings
        self.embedder = embedder
        self.engine = engine
        self.replies = replies
        self.index: AnswerIndex | None = None
        self.articles: dict[str, StoredArticle] = {}
        self._signature: tuple[int, float, int] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def build(
        cls,
        settings: KbSettings,
        embedder: Embedder,
        engine: AsyncEngine | None,
        links: CustomerLinks,
        texts: Catalogue | None = None,
    ) -> AnswerService:
        """Encodes the reply examples once and the published articles."""
        kinds = {
            Verdict.YES.value: settings.yes_examples,
            Verdict.NO.value: settings.no_examples,
            Verdict.HUMAN.value: settings.human_examples,
        }
        examples = [embedding_text("", t) for phrases in kinds.values() for t in phrases]
        replies = None
        if examples:
            encoded = await embedder.encode_async(examples)
            vectors: dict[str, Vectors] = {}
            start = 0
            for kind, phrases in kinds.items():
                vectors[kind] = encoded[start : start + len(phrases)]
                start += len(phrases)
            threshold = settings.reply_similarity
            replies = MeaningTriage(kinds, vectors, dict.fromkeys(kinds, threshold))
        service = cls(settings, embedder, engine, replies, links, texts)
        await service.catch_up()
        return service

    async def catch_up(self) -> bool:
        """Rebuilds the index if articles were published, edited or retired since the last
        look; True when it did."""
        if self.engine is None or not self.settings.answers:
            return False
        async with self._lock:
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(
                            func.count(),
                            func.coalesce(func.max(kb_articles.c.updated_at), 0.0),
                            func.coalesce(func.sum(kb_articles.c.current_version), 0),
                        ).select_from(kb_articles)
                    )
                ).one()
            signature = (int(row[0]), float(row[1]), int(row[2]))
            if signature == self._signature:
                return False
            published = await KnowledgeBase(self.engine).published()
            index = await asyncio.to_thread(
                AnswerIndex.build,
                [a.article for a in published],
                self.embedder,
                precision=self.settings.precision,
            )
            self.index, self.articles = index, {a.id: a for a in published}
            self._signature = signature
            log.info("knowledge base: %d published articles", len(published))
            return True

    def candidates(
        self, texts: Sequence[str], vectors: Vectors, languages: Sequence[str]
    ) -> list[Candidate]:
        """For each message, the article that would answer it (or why none would)."""
        if self.index is None or not len(texts):
            return [Candidate(_NOTHING, None) for _ in texts]
        return [
            Candidate(d, self.articles.get(d.article_id) if d.article_id else None)
            for d in self.index.decide(texts, vectors, languages)
        ]

    def verdicts(self, texts: Sequence[str], vectors: Vectors) -> list[Verdict]:
        """What each message says if it is a reply to a bot answer."""
        matches = self.replies.matches(vectors) if self.replies and len(texts) else []
        found = []
        for i, text in enumerate(texts):
            exact = exact_verdict(text, self.texts)
            if exact is not None:
                found.append(exact)
                continue
            close = matches[i] if matches else {}
            if not close or "?" in text or len(text.split()) > MAX_PLAIN_REPLY_WORDS:
                found.append(Verdict.OTHER)
                continue
            best = max(close.values(), key=lambda m: m.similarity)
            found.append(Verdict(best.kind))
        return found


_NOTHING = AnswerDecision(None, "", 0.0, 1.0, None, None, "the knowledge base is not loaded")
