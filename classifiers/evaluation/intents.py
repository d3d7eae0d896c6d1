"""Labelled data and the router's intent metrics, for ``inbox eval``.

The router scored here is the one the worker uses, built from K examples per label taken
from the train file (seeded), so the figures describe the product, not a side model.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.embedder import Embedder
from classifiers.router import LabelledExample, Router
from classifiers.self_training import HISTORY_CONFIDENCE, learn_history
from inbox.errors import ConfigError
from inbox.text import embedding_text

TEXT_COLUMNS = ("text", "utterance", "sentence", "message")
LABEL_COLUMNS = ("intent", "category", "label")


@dataclass(frozen=True)
class Labelled:
    """One row of an evaluation file."""

    text: str
    label: str


@dataclass(frozen=True)
class SeedResult:
    """The figures of one sampled run."""

    seed: int
    accuracy: float
    macro_f1: float
    calibration_error: float
    confusions: list[tuple[str, str, int]]


def read_labelled(path: Path, text_col: str | None, label_col: str | None) -> list[Labelled]:
    """Reads a CSV, finding the text and label columns unless they are named."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        text_key = text_col or next((c for c in TEXT_COLUMNS if c in fields), None)
        label_key = label_col or next((c for c in LABEL_COLUMNS if c in fields), None)
        if text_key not in fields or label_key not in fields:
            raise ConfigError(
                f"{path}: cannot find the text/label columns in {fields}; "
                "name them with --text-col and --label-col"
            )
        return [Labelled(row[text_key], row[label_key]) for row in reader if row[text_key]]


def sample_shots(rows: list[Labelled], shots: int, seed: int) -> list[Labelled]:
    """K rows per label (all of them when K is 0), reproducible by seed."""
    if shots <= 0:
        return list(rows)
    by_label: dict[str, list[Labelled]] = defaultdict(list)
    for row in rows:
        by_label[row.label].append(row)
    rng = random.Random(seed)
    chosen: list[Labelled] = []
    for label in sorted(by_label):
        pool = by_label[label]
        chosen += rng.sample(pool, min(shots, len(pool)))
    return chosen


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """The unweighted mean of per-label F1."""
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        denominator = 2 * tp + fp + fn
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """How far the confidence is from the observed accuracy, averaged over 10 bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        mask = (confidence > low) & (confidence <= high)
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


def fit_router(
    rows: list[Labelled],
    embedder: Embedder,
    history: list[str] | None = None,
    min_confidence: float = HISTORY_CONFIDENCE,
) -> Router:
    """The router on ``rows``; with ``history`` (unlabelled texts), it also learns the
    ones it is sure of, as ``inbox train`` makes the service's router do."""
    # The texts go through the same preparation as live messages.
    vectors = embedder.encode([embedding_text("", r.text) for r in rows])
    examples = [LabelledExample(r.label, r.text) for r in rows]
    if not history:
        return Router(examples, vectors, threshold=0.0, margin=0.0, fallback_team="__none__")
    texts = [embedding_text("", text) for text in history]
    learned = learn_history(
        examples, vectors, texts, embedder.encode(texts), min_confidence=min_confidence
    )
    return Router(
        examples + learned.examples,
        np.vstack([vectors, learned.vectors]),
        threshold=0.0,
        margin=0.0,
        fallback_team="__none__",
        temperature=learned.temperature,
    )


def score_router(
    rows: list[Labelled],
    test: list[Labelled],
    embedder: Embedder,
    seed: int,
    history: list[str] | None = None,
) -> SeedResult:
    """Fits the router on ``rows`` (and ``history``) and scores it on the test rows."""
    router = fit_router(rows, embedder, history)
    test_vectors = embedder.encode([embedding_text("", r.text) for r in test])
    gold = [row.label for row in test]
    probs = router.probabilities(test_vectors)
    teams = router.teams
    predicted = [teams[i] for i in probs.argmax(axis=1)]
    correct = np.array([g == p for g, p in zip(gold, predicted, strict=True)], dtype=float)
    confusions = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    return SeedResult(
        seed=seed,
        accuracy=float(correct.mean()),
        macro_f1=macro_f1(gold, predicted),
        calibration_error=expected_calibration_error(probs.max(axis=1), correct),
        confusions=[(g, p, n) for (g, p), n in confusions.most_common(5)],
    )
