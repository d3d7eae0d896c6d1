"""Answer retrieval: which knowledge-base article answers a message, and how sure that is.

Each article is split into passages: its title, each paragraph (encoded with the heading
it sits under) and each of its example ``questions``. A message is scored against every
passage by cosine (the routing encoder) and by BM25 (``classifiers.lexical``, computed in
Python, so SQLite and PostgreSQL give the same answers by construction). A passage scores
its cosine plus ``LEXICAL_WEIGHT`` times its BM25 share; an article, a soft maximum of its
passages' scores plus ``HEAD_WEIGHT`` times the log-probability an article classifier
gives it; the best article wins.

The article classifier is a linear softmax head over the frozen vectors, fitted when the
index is built on the knowledge base's own passages (each labelled with its article), so
it needs nothing but the articles: it learns which directions of the encoder's space tell
this knowledge base's articles apart, where plain cosine weighs every direction alike.
It is fitted at build, in numpy: 0.14 s for the benchmark's 177 passages and 22 articles,
about 6 s for 3,000 passages and 200 articles (encoding those passages takes far longer).
At decide time it is one small matrix product: the whole decision costs about 0.5 ms a
message against about 16 ms for the encode.

The confidence starts as a logistic model of five signals of the winner: its best cosine,
its BM25 share, its lead over the runner-up, and the classifier's probability and lead.
Its coefficients (``CALIBRATION``) were fitted on the Bitext *validation* split against
the benchmark knowledge base (``tests/benchmarks/kb_bitext``, with and without example
questions, unanswerable rows included; ``scripts/bench-kb --fit``) and are reported on
the *test* split in docs/BENCHMARKS.md: that is the chance this answer is right. But the
setting is a precision for the answers as a whole, and most answers are much surer than
the last one let through: answering only when each answer's own chance is 0.97 gives a
precision near 0.99 and leaves many right answers unsent. So the chance is mapped onto
the scale of precision: ``PRECISION_THRESHOLDS`` holds, for each precision, the lowest
chance at which the answers at or above it were right that share of the time on the same
validation run (the higher of the two benchmark knowledge bases' bars, so that both
reach it), and the confidence is the chance interpolated through that table. Answering
when the confidence is at least ``precision`` is then the rule, with the threshold equal
to the precision. (A calibration fitted on the knowledge base's own questions, each left
out in turn, would need no labelled messages, but it was far too cautious on real ones:
docs/BENCHMARKS.md.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from classifiers.embedder import Embedder, Vectors
from classifiers.lexical import Bm25
from classifiers.router import fit_softmax

LEXICAL_WEIGHT = 0.3
# "Is this anything I know?": the winner's closest passage must be at least this close
# (cosine). The article classifier gives some article a high probability for any text,
# off-topic noise too ("It is version 3.2" scored 0.98 with the shipped examples at
# cosine 0.25); on Bitext validation 99.5 % of right answers are above 0.43.
MIN_SIMILARITY = 0.4
# How the reasons start when no article is sure (not a language or a triage rule): what
# the knowledge base lacks.
UNSURE_REASONS = ("confidence ", "nothing in the articles is close")
SHARPNESS = 10.0  # of the soft maximum over an article's passages
HEAD_WEIGHT = 0.1  # of the article classifier's log-probability in an article's score
HEAD_L2 = 1e-4  # the classifier's weight decay: it learns from a few passages per article
# bias, cosine, BM25 share, lead, classifier probability, classifier lead: fitted on
# Bitext validation (scripts/bench-kb --fit).
CALIBRATION = (-4.721, 5.557, 9.629, 6.481, -0.107, -0.039)
# (precision, chance) pairs: answers whose chance was at or above the bar were right that
# share of the time on Bitext validation (scripts/bench-kb --fit).
PRECISION_THRESHOLDS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.8, 0.1273),
    (0.85, 0.3672),
    (0.9, 0.5751),
    (0.93, 0.7311),
    (0.95, 0.7951),
    (0.97, 0.8622),
    (0.98, 0.8914),
    (0.99, 0.9612),
    (1.0, 1.0),
)
_LIST_ITEM = re.compile(r"^(\d+[.)]|[-*+])\s")
_MARKUP = re.compile(r"[*_`>#]+|\[([^\]]*)\]\([^)]*\)")


class Article(Protocol):
    """What retrieval reads of an article (``inbox.kb.articles.Article`` is one; the
    classifiers sit below the knowledge base in the layering, so they name no class)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def questions(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Passage:
    """A piece of an article a message can match: its title, a paragraph or a question."""

    article_id: str
    kind: str  # "title", "paragraph" or "question"
    text: str
    heading: str = ""

    @property
    def encoded_text(self) -> str:
        """What the encoder reads: a paragraph with the heading it sits under."""
        return f"{self.heading}. {self.text}" if self.heading else self.text


@dataclass(frozen=True)
class AnswerEvidence:
    """Why the decision is what it is: the closest passage and the runner-up."""

    matched: str  # the text of the passage (or question) closest to the message
    matched_kind: str
    similarity: float  # the winner's best cosine
    lexical: float  # the winner's best BM25 share, 0..1
    lexical_terms: tuple[str, ...]  # the message's words that passage contains
    runner_up: str | None  # the second-best article
    lead: float  # the winner's score minus the runner-up's
    head_probability: float = 0.0  # the article classifier's probability of the winner
    head_lead: float = 0.0  # that probability minus the best other article's


@dataclass(frozen=True)
class AnswerDecision:
    """The article to answer with (None: abstain), the passage to quote, and why."""

    article_id: str | None
    passage: str
    confidence: float
    threshold: float
    evidence: AnswerEvidence | None
    best_article: str | None = None  # the candidate, also when abstaining
    reason: str = ""  # why it abstains; empty when it answers


def passages_of(article: Article) -> list[Passage]:
    """The article's title, paragraphs (with their heading) and questions."""
    found = [Passage(article.id, "title", article.title)]
    heading = ""
    for block in re.split(r"\n\s*\n", article.body):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        text = ""
        for line in lines:
            if line.startswith("#"):
                heading = _plain(line)
            else:
                # A list keeps its items on lines of their own: the customer reads them.
                joint = "\n" if text and _LIST_ITEM.match(line) else " "
                text = f"{text}{joint}{_plain(line)}" if text else _plain(line)
        text = text.strip()
        if text:
            found.append(
                Passage(article.id, "paragraph", text, "" if heading == article.title else heading)
            )
    found.extend(Passage(article.id, "question", q) for q in article.questions)
    return found


def _plain(line: str) -> str:
    """A Markdown line as text: link text kept, emphasis and heading marks gone."""
    return _MARKUP.sub(lambda m: m.group(1) or "", line).strip()


def confidence_signals(evidence: AnswerEvidence) -> tuple[float, ...]:
    """The signals the confidence weighs, in the order of ``CALIBRATION[1:]``."""
    return (
        evidence.similarity,
        evidence.lexical,
        evidence.lead,
        evidence.head_probability,
        evidence.head_lead,
    )


def chance(evidence: AnswerEvidence) -> float:
    """The calibrated chance that the winning article is the right answer (the logistic
    model of ``CALIBRATION``)."""
    z = CALIBRATION[0] + sum(
        w * x for w, x in zip(CALIBRATION[1:], confidence_signals(evidence), strict=True)
    )
    return 1.0 / (1.0 + math.exp(-z))


def confidence(evidence: AnswerEvidence) -> float:
    """The precision of answers at least this sure: the chance mapped through
    ``PRECISION_THRESHOLDS``, so that answering at confidence >= p is right p of the time."""
    bars = [bar for _, bar in PRECISION_THRESHOLDS]
    reached = [precision for precision, _ in PRECISION_THRESHOLDS]
    return float(np.interp(chance(evidence), bars, reached))


def threshold_for(precision: float) -> float:
    """The confidence an answer needs for ``precision``: the confidence is on the scale of
    precision, so it is the precision itself (see the module docstring)."""
    return precision


class AnswerIndex:
    """Articles' passages and their vectors; decides, per message, whether to answer."""

    def __init__(
        self,
        articles: Sequence[Article],
        passages: Sequence[Passage],
        vectors: Vectors,
        *,
        precision: float,
    ) -> None:
        if len(passages) != len(vectors):
            raise ValueError("the answer index needs one vector per passage")
        self.articles = {a.id: a for a in articles}
        self.passages = list(passages)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.threshold = threshold_for(precision)
        self.article_ids = sorted({p.article_id for p in self.passages})
        column = {a: i for i, a in enumerate(self.article_ids)}
        self._owner = np.array([column[p.article_id] for p in self.passages], dtype=np.int64)
        # The passages grouped by article, for per-article reductions of a score matrix.
        self._grouped = np.argsort(self._owner, kind="stable")
        self._starts = np.searchsorted(self._owner[self._grouped], np.arange(len(column)))
        self._members = [np.flatnonzero(self._owner == a) for a in range(len(column))]
        self._bm25 = Bm25([p.encoded_text for p in self.passages])
        self.languages = {a.language for a in articles}
        self._masks: dict[str, np.ndarray] = {}
        self._head = fit_softmax(
            self.vectors, self._owner, max(len(self.article_ids), 1), l2=HEAD_L2
        )

    @classmethod
    def build(
        cls, articles: Sequence[Article], embedder: Embedder, *, precision: float
    ) -> AnswerIndex:
        """Splits and encodes the articles (one encode call)."""
        passages = [p for a in articles for p in passages_of(a)]
        vectors = embedder.encode([p.encoded_text for p in passages])
        return cls(articles, passages, vectors, precision=precision)

    def decide(
        self, texts: Sequence[str], vectors: Vectors, languages: Sequence[str] = ()
    ) -> list[AnswerDecision]:
        """One decision per message; ``languages`` (optional, "" when unknown) restricts
        each message to the articles written in its language. The scores of the whole
        batch are computed together, as matrices; only the evidence is per message."""
        wanted = [languages[i] if i < len(languages) else "" for i in range(len(texts))]
        decisions: list[AnswerDecision | None] = [None] * len(texts)
        rows: list[int] = []
        for i, language in enumerate(wanted):
            if not self.passages:
                decisions[i] = self._abstain("the knowledge base has no articles")
            elif language and language not in self.languages:
                reason = f"no article is written in this language ({language})"
                decisions[i] = self._abstain(reason)
            else:
                rows.append(i)
        if rows:
            scores = self._scores(
                [texts[i] for i in rows],
                np.asarray(vectors, dtype=np.float32)[rows],
                [wanted[i] for i in rows],
            )
            for row, i in enumerate(rows):
                decisions[i] = self._decide_one(texts[i], scores, row)
        return [d for d in decisions if d is not None]

    def _abstain(self, reason: str) -> AnswerDecision:
        return AnswerDecision(None, "", 0.0, self.threshold, None, None, reason)

    def _scores(self, texts: list[str], x: np.ndarray, languages: list[str]) -> _Scores:
        """The batch's passage and article scores (one row per message)."""
        sims = x @ self.vectors.T
        lex = np.stack([self._bm25.scores(t) for t in texts])
        allowed = np.stack([self._allowed(language) for language in languages])
        passage = np.where(allowed, sims + LEXICAL_WEIGHT * lex, -np.inf)
        best_sim = self._per_article(np.maximum, np.where(allowed, sims, -np.inf))
        best_lex = self._per_article(np.maximum, np.where(allowed, lex, 0.0))
        head_logits = x @ self._head[0] + self._head[1]
        probability = _softmax(np.where(np.isfinite(best_sim), head_logits, -np.inf))
        with np.errstate(divide="ignore"):
            article = self._soft_maximum(passage) + HEAD_WEIGHT * np.log(probability)
        return _Scores(passage, article, best_sim, best_lex, probability)

    def _per_article(self, reduce: np.ufunc, values: np.ndarray) -> np.ndarray:
        """``reduce`` over each article's passages, row by row: one column per article."""
        result: np.ndarray = reduce.reduceat(values[:, self._grouped], self._starts, axis=1)
        return result

    def _decide_one(self, text: str, scores: _Scores, row: int) -> AnswerDecision:
        article_score = scores.article[row]
        passage_score = scores.passage[row]
        probability = scores.probability[row]
        order = np.argsort(-article_score)
        top = int(order[0])
        second = float(article_score[order[1]]) if len(order) > 1 else -np.inf
        lead = float(article_score[top] - second) if math.isfinite(second) else 1.0
        mine = self._members[top]
        matched = int(mine[np.argmax(passage_score[mine])])
        quoted = self._quote(mine, passage_score)
        others = probability.copy()
        others[top] = -np.inf
        evidence = AnswerEvidence(
            matched=self.passages[matched].text,
            matched_kind=self.passages[matched].kind,
            similarity=float(scores.best_similarity[row, top]),
            lexical=float(scores.best_lexical[row, top]),
            lexical_terms=self._bm25.shared_terms(text, matched),
            runner_up=self.article_ids[int(order[1])] if math.isfinite(second) else None,
            lead=lead,
            head_probability=float(probability[top]),
            head_lead=float(probability[top] - (others.max() if len(others) > 1 else 0.0)),
        )
        sure = confidence(evidence)
        article_id = self.article_ids[top]
        reason = ""
        sim = evidence.similarity
        if sim < MIN_SIMILARITY:
            reason = (
                f"nothing in the articles is close to it (similarity {sim:.2f} is below "
                f"{MIN_SIMILARITY:.2f})"
            )
        elif sure < self.threshold:
            reason = f"confidence {sure:.3f} is below the threshold {self.threshold:.3f}"
        return AnswerDecision(
            None if reason else article_id,
            "" if reason else quoted,
            sure,
            self.threshold,
            evidence,
            article_id,
            reason,
        )

    def _allowed(self, language: str) -> np.ndarray:
        """Which passages a message in ``language`` may match (all, when it is unknown)."""
        mask = self._masks.get(language)
        if mask is None:
            mask = np.array(
                [
                    not language or self.articles[p.article_id].language == language
                    for p in self.passages
                ]
            )
            self._masks[language] = mask
        return mask

    def _soft_maximum(self, passage_score: np.ndarray) -> np.ndarray:
        """Each article's score: a soft maximum of its passages' (log-sum-exp), so an
        article that several passages support beats one with a single lucky match."""
        finite = np.isfinite(passage_score)
        peak = np.max(np.where(finite, passage_score, -np.inf), axis=1, keepdims=True)
        weights = np.where(finite, np.exp(SHARPNESS * (passage_score - peak)), 0.0)
        totals = self._per_article(np.add, weights)
        with np.errstate(divide="ignore"):
            scores: np.ndarray = peak + np.log(totals) / SHARPNESS
        return scores

    def _quote(self, mine: np.ndarray, passage_score: np.ndarray) -> str:
        """The article's paragraph that best answers: the best-scoring one (a question or
        the title matched, perhaps, but a paragraph is what the customer reads)."""
        paragraphs = [int(i) for i in mine if self.passages[int(i)].kind == "paragraph"]
        if not paragraphs:
            return self.passages[int(mine[0])].text
        return self.passages[max(paragraphs, key=lambda i: float(passage_score[i]))].text


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits, row by row; -inf (an article in another language) gets 0."""
    peak = np.max(np.where(np.isfinite(logits), logits, -np.inf), axis=1, keepdims=True)
    shifted = np.exp(logits - peak)
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


@dataclass(frozen=True)
class _Scores:
    """A batch's scores, one row per message: each passage's (cosine plus lexical; -inf
    for another language), each article's, and the winner's signals per article."""

    passage: np.ndarray
    article: np.ndarray
    best_similarity: np.ndarray
    best_lexical: np.ndarray
    probability: np.ndarray
