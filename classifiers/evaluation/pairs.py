"""Duplicate detection on labelled pairs: same intent (a paraphrase) or not.

Pairs are built from a labelled file: every row is paired once with another row of its
own label (a positive) and once with a row of another label (a negative), seeded. The
auto-merge threshold is chosen on pairs from the train file — the lowest similarity at
which merging is still ``target_precision`` precise there — and then scored on pairs
from the test file, so the figure is not tuned on what it reports.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from classifiers.embedder import Vectors
from classifiers.evaluation.intents import Labelled


@dataclass(frozen=True)
class PairScores:
    """Similarities of positive and negative pairs."""

    positives: np.ndarray
    negatives: np.ndarray

    def precision_recall(self, threshold: float) -> tuple[float, float]:
        """Precision and recall of "merge when similarity ≥ threshold"."""
        tp = int((self.positives >= threshold).sum())
        fp = int((self.negatives >= threshold).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        return precision, tp / len(self.positives) if len(self.positives) else 0.0


@dataclass(frozen=True)
class PairResult:
    """The threshold chosen on train pairs and how it does on test pairs."""

    threshold: float
    target_precision: float
    validation_precision: float
    validation_recall: float
    precision: float
    recall: float
    pairs: int
    suggest_threshold: float
    suggest_precision: float
    suggest_recall: float


def build_pairs(
    rows: list[Labelled], seed: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """One positive and one negative partner per row (indices into ``rows``)."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_label[row.label].append(i)
    positives, negatives = [], []
    for i, row in enumerate(rows):
        same = by_label[row.label]
        if len(same) > 1:
            j = i
            while j == i:
                j = rng.choice(same)
            positives.append((i, j))
        j = i
        while rows[j].label == row.label:
            j = rng.randrange(len(rows))
        negatives.append((i, j))
    return positives, negatives


def pair_scores(rows: list[Labelled], vectors: Vectors, seed: int) -> PairScores:
    """Cosine similarities of the seeded pairs of ``rows``."""
    positives, negatives = build_pairs(rows, seed)

    def sims(pairs: list[tuple[int, int]]) -> np.ndarray:
        a = vectors[[i for i, _ in pairs]]
        b = vectors[[j for _, j in pairs]]
        return np.asarray(np.einsum("ij,ij->i", a, b))

    return PairScores(sims(positives), sims(negatives))


def choose_threshold(scores: PairScores, target_precision: float) -> float:
    """The lowest threshold whose precision on ``scores`` reaches the target."""
    candidates = np.unique(np.concatenate([scores.positives, scores.negatives]))
    for threshold in candidates:  # ascending: the first that is precise enough
        if scores.precision_recall(float(threshold))[0] >= target_precision:
            return float(threshold)
    return 1.0


def evaluate_pairs(
    validation: PairScores,
    test: PairScores,
    target_precision: float = 0.99,
    suggest_precision: float = 0.90,
) -> PairResult:
    """Chooses the auto-merge and suggestion thresholds on validation, scores on test."""
    threshold = choose_threshold(validation, target_precision)
    suggest = min(threshold, choose_threshold(validation, suggest_precision))
    v_precision, v_recall = validation.precision_recall(threshold)
    precision, recall = test.precision_recall(threshold)
    s_precision, s_recall = test.precision_recall(suggest)
    return PairResult(
        threshold=threshold,
        target_precision=target_precision,
        validation_precision=v_precision,
        validation_recall=v_recall,
        precision=precision,
        recall=recall,
        pairs=len(test.positives) + len(test.negatives),
        suggest_threshold=suggest,
        suggest_precision=s_precision,
        suggest_recall=s_recall,
    )
