"""``inbox eval``: few-shot accuracy of the production router on a labelled CSV.

The router used here is the one the worker uses, built from K examples per label taken
from the train file (seeded), so the figures describe the product, not a side model.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.embedder import Embedder, SentenceTransformerEmbedder
from classifiers.router import LabelledExample, Router
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


def evaluate(
    train: list[Labelled], test: list[Labelled], shots: int, seeds: list[int], embedder: Embedder
) -> list[SeedResult]:
    """Builds the router per seed and scores it on the test rows."""
    samples = {seed: sample_shots(train, shots, seed) for seed in seeds}
    unique = sorted({row.text for rows in samples.values() for row in rows})
    index = {text: i for i, text in enumerate(unique)}
    # The texts go through the same preparation as live messages.
    train_vectors = embedder.encode([embedding_text("", text) for text in unique])
    test_vectors = embedder.encode([embedding_text("", row.text) for row in test])
    gold = [row.label for row in test]
    results = []
    for seed, rows in samples.items():
        router = Router(
            [LabelledExample(r.label, r.text) for r in rows],
            train_vectors[[index[r.text] for r in rows]],
            threshold=0.0,
            margin=0.0,
            fallback_team="__none__",
        )
        probs = router.probabilities(test_vectors)
        teams = router.teams
        predicted = [teams[i] for i in probs.argmax(axis=1)]
        correct = np.array([g == p for g, p in zip(gold, predicted, strict=True)], dtype=float)
        confusions = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
        results.append(
            SeedResult(
                seed=seed,
                accuracy=float(correct.mean()),
                macro_f1=macro_f1(gold, predicted),
                calibration_error=expected_calibration_error(probs.max(axis=1), correct),
                confusions=[(g, p, n) for (g, p), n in confusions.most_common(5)],
            )
        )
    return results


def run_eval(args: argparse.Namespace) -> int:
    """The ``inbox eval`` command."""
    test_path = Path(args.csv)
    train_path = Path(args.train) if args.train else test_path.with_name("train.csv")
    test = read_labelled(test_path, args.text_col, args.label_col)
    train = read_labelled(train_path, args.text_col, args.label_col)
    seeds = args.seed or [0]
    started = time.perf_counter()
    results = evaluate(train, test, args.shots, seeds, SentenceTransformerEmbedder())
    elapsed = time.perf_counter() - started

    shots = "all" if args.shots <= 0 else str(args.shots)
    labels = len({r.label for r in train})
    print(f"{test_path}: {len(test)} test rows, {labels} labels, {shots} examples per label")
    print(f"{'seed':>6} {'accuracy':>9} {'macro-F1':>9} {'ECE':>7}")
    for r in results:
        print(f"{r.seed:>6} {r.accuracy:>9.4f} {r.macro_f1:>9.4f} {r.calibration_error:>7.4f}")
    mean_acc = float(np.mean([r.accuracy for r in results]))
    mean_f1 = float(np.mean([r.macro_f1 for r in results]))
    mean_ece = float(np.mean([r.calibration_error for r in results]))
    print(f"{'mean':>6} {mean_acc:>9.4f} {mean_f1:>9.4f} {mean_ece:>7.4f}")
    print("most confused (gold -> predicted, count), first seed:")
    for gold, predicted, count in results[0].confusions:
        print(f"  {gold} -> {predicted}: {count}")
    print(f"({elapsed:.1f} s)")
    if args.json_out:
        report: dict[str, Any] = {
            "test": str(test_path),
            "train": str(train_path),
            "shots": args.shots,
            "mean_accuracy": mean_acc,
            "mean_macro_f1": mean_f1,
            "mean_calibration_error": mean_ece,
            "seeds": [
                {
                    "seed": r.seed,
                    "accuracy": r.accuracy,
                    "macro_f1": r.macro_f1,
                    "calibration_error": r.calibration_error,
                    "confusions": [list(c) for c in r.confusions],
                }
                for r in results
            ],
        }
        Path(args.json_out).write_text(json.dumps(report, indent=2))
    return 0
