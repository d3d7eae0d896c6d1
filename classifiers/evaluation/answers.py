"""How well the bot decides to answer: right, wrong or abstained, on a labelled CSV.

The CSV has columns ``text,article``; an empty article means no article answers the
question (it should be abstained on). An answer to an unanswerable question counts as
wrong for precision: a customer got an answer that was not theirs.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.answers import AnswerDecision

CURVE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)


@dataclass(frozen=True)
class KbQuestion:
    """A question and the article that answers it (None: none does)."""

    text: str
    article: str | None


@dataclass(frozen=True)
class AnswerScore:
    """Counts and rates at one threshold."""

    threshold: float
    answerable: int
    answered_right: int
    answered_wrong: int  # answerable, but with another article
    abstained: int  # answerable, abstained on
    unanswerable: int
    unanswerable_answered: int
    precision: float  # right answers / all answers (1.0 when it never answers)
    coverage: float  # answerable questions answered right / answerable questions
    unanswerable_answered_share: float


def read_questions(path: Path) -> list[KbQuestion]:
    """The rows of a ``text,article`` CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "article"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns text and article")
        return [
            KbQuestion(row["text"], (row["article"] or "").strip() or None)
            for row in reader
            if (row["text"] or "").strip()
        ]


def score_answers(
    questions: Sequence[KbQuestion], decisions: Sequence[AnswerDecision], threshold: float
) -> AnswerScore:
    """The counts if the bot answered every candidate with confidence >= ``threshold``."""
    right = wrong = abstained = stray = 0
    for question, decision in zip(questions, decisions, strict=True):
        answers = decision.best_article is not None and decision.confidence >= threshold
        if question.article is None:
            stray += answers
        elif not answers:
            abstained += 1
        elif decision.best_article == question.article:
            right += 1
        else:
            wrong += 1
    answerable = right + wrong + abstained
    unanswerable = len(questions) - answerable
    answered = right + wrong + stray
    return AnswerScore(
        threshold=threshold,
        answerable=answerable,
        answered_right=right,
        answered_wrong=wrong,
        abstained=abstained,
        unanswerable=unanswerable,
        unanswerable_answered=stray,
        precision=right / answered if answered else 1.0,
        coverage=right / answerable if answerable else 0.0,
        unanswerable_answered_share=stray / unanswerable if unanswerable else 0.0,
    )


def answer_curve(
    questions: Sequence[KbQuestion],
    decisions: Sequence[AnswerDecision],
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
) -> list[AnswerScore]:
    """The scores at each of ``thresholds``: what another precision setting would give."""
    return [score_answers(questions, decisions, t) for t in thresholds]


@dataclass(frozen=True)
class Calibration:
    """The confidence's logistic coefficients and the bar each precision needs."""

    coefficients: tuple[float, ...]  # bias, then one weight per confidence signal
    precision_thresholds: tuple[tuple[float, float], ...]


def fit_calibration(
    signals: Sequence[Sequence[float]],
    right: Sequence[bool],
    precisions: Sequence[float] = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99),
    l2: float = 1e-3,
    groups: Sequence[int] = (),
) -> Calibration:
    """Fits the confidence (logistic regression of "the best article is right" on the
    signals, by Newton's method) and, for each of ``precisions``, the lowest confidence at
    which the answers at or above it were right at least that share of the time.

    ``right`` is False for an unanswerable question: answering it is an error. With
    ``groups`` (one per row: say, which knowledge base answered it), each bar is the
    highest of the groups' own bars, so that every group reaches the precision.
    """
    x = np.column_stack([np.ones(len(right)), np.asarray(signals, dtype=np.float64)])
    y = np.asarray(right, dtype=np.float64)
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + l2 * w
        hessian = (x.T * (p * (1 - p))) @ x + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    coefficients = tuple(round(float(c), 3) for c in w)  # as they will be written down
    sure = 1.0 / (1.0 + np.exp(-(x @ np.array(coefficients))))
    group = np.asarray(groups) if len(groups) else np.zeros(len(y), dtype=np.int64)
    pairs = [(0.0, 0.0)]
    for precision in precisions:
        bar = max(_bar(sure[group == g], y[group == g], precision) for g in np.unique(group))
        pairs.append((precision, max(bar, pairs[-1][1])))
    pairs.append((1.0, 1.0))
    return Calibration(coefficients, tuple(pairs))


def _bar(sure: np.ndarray, right: np.ndarray, precision: float) -> float:
    """The lowest confidence (with 4 decimals, as written down) at which the answers at or
    above it were right at least ``precision`` of the time; 1.0 if none is."""
    bars = np.unique(np.ceil(sure * 10_000) / 10_000)
    bars = bars[bars <= sure.max()]
    reached = np.array([right[sure >= bar].mean() for bar in bars])
    enough = np.flatnonzero(reached >= precision)
    return float(bars[enough[0]]) if len(enough) else 1.0
