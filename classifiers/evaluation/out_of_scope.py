"""Out-of-scope detection: does the router say "I am not sure" to what it never learnt?

Protocol: ``holdout`` labels are chosen (seeded) and removed from training; they are the
out-of-scope messages. The remaining labels' train rows are split 90/10 into fit and
validation rows; the validation set also gets the held-out labels' *train* rows. The
router is fitted on the fit rows, and the abstain threshold is chosen on validation (the
one that maximises the mean of in-scope accuracy and out-of-scope recall). The test set
is the test file: in-scope rows must be routed right (an abstention counts as wrong), and
held-out rows should be abstained on. The same router is also scored as it runs at the
default settings (``[routing]`` left as shipped), where every abstention rule applies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from classifiers.embedder import Vectors
from classifiers.evaluation.intents import Labelled
from classifiers.router import LabelledExample, Router


@dataclass(frozen=True)
class OosSplit:
    """Rows for one out-of-scope run."""

    fit: list[Labelled]
    validation: list[Labelled]
    test: list[Labelled]
    unseen: frozenset[str]


@dataclass(frozen=True)
class OosResult:
    """How the router does with an abstain threshold chosen on validation."""

    unseen: list[str]
    threshold: float
    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float
    validation_in_scope_accuracy: float
    validation_oos_recall: float
    default_in_scope_accuracy: float
    default_oos_recall: float
    default_oos_precision: float


def split_for_oos(train: list[Labelled], test: list[Labelled], holdout: int, seed: int) -> OosSplit:
    """Chooses the unseen labels and splits the rows as the protocol says."""
    rng = random.Random(seed)
    labels = sorted({row.label for row in train})
    unseen = frozenset(rng.sample(labels, holdout))
    seen_rows = [row for row in train if row.label not in unseen]
    rng.shuffle(seen_rows)
    cut = len(seen_rows) // 10
    validation = seen_rows[:cut] + [row for row in train if row.label in unseen]
    return OosSplit(seen_rows[cut:], validation, test, unseen)


def _scores(router: Router, vectors: Vectors) -> tuple[list[str], np.ndarray]:
    probs = router.probabilities(vectors)
    teams = router.teams
    return [teams[i] for i in probs.argmax(axis=1)], probs.max(axis=1)


def _rates(
    rows: list[Labelled], unseen: frozenset[str], predicted: list[str], abstain: np.ndarray
) -> tuple[float, float, float]:
    in_scope = np.array([row.label not in unseen for row in rows])
    right = np.array([p == row.label for p, row in zip(predicted, rows, strict=True)])
    accuracy = float((right & ~abstain)[in_scope].mean())
    recall = float(abstain[~in_scope].mean()) if (~in_scope).any() else 0.0
    precision = float((~in_scope)[abstain].mean()) if abstain.any() else 1.0
    return accuracy, recall, precision


@dataclass(frozen=True)
class RouterRules:
    """The router's abstention rules as the product runs them (its [routing] settings)."""

    threshold: float
    margin: float
    min_similarity: float


def evaluate_oos(
    split: OosSplit,
    fit_vectors: Vectors,
    validation_vectors: Vectors,
    test_vectors: Vectors,
    rules: RouterRules,
) -> OosResult:
    """Fits on the fit rows, chooses the threshold on validation, scores the test rows;
    and scores them once more with every rule of ``rules`` applied."""
    router = Router(
        [LabelledExample(r.label, r.text) for r in split.fit],
        fit_vectors,
        threshold=rules.threshold,
        margin=rules.margin,
        fallback_team="__oos__",
        min_similarity=rules.min_similarity,
    )
    v_predicted, v_confidence = _scores(router, validation_vectors)
    best: tuple[float, float, float, float] = (-1.0, 0.0, 0.0, 0.0)
    for threshold in np.unique(np.round(v_confidence, 3)):
        accuracy, recall, _ = _rates(
            split.validation, split.unseen, v_predicted, v_confidence < threshold
        )
        balanced = (accuracy + recall) / 2
        if balanced > best[0]:
            best = (balanced, float(threshold), accuracy, recall)
    _, threshold, v_accuracy, v_recall = best
    predicted, confidence = _scores(router, test_vectors)
    accuracy, recall, precision = _rates(
        split.test, split.unseen, predicted, confidence < threshold
    )
    decisions = router.route(test_vectors)
    at_defaults = _rates(
        split.test,
        split.unseen,
        [d.predicted_team for d in decisions],
        np.array([d.abstained for d in decisions], dtype=bool),
    )
    return OosResult(
        unseen=sorted(split.unseen),
        threshold=threshold,
        in_scope_accuracy=accuracy,
        oos_recall=recall,
        oos_precision=precision,
        validation_in_scope_accuracy=v_accuracy,
        validation_oos_recall=v_recall,
        default_in_scope_accuracy=at_defaults[0],
        default_oos_recall=at_defaults[1],
        default_oos_precision=at_defaults[2],
    )
