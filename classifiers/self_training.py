"""Learning from the customers' own unlabelled messages (self-training).

A team starts with a handful of example phrases; its customers then write thousands of
messages nobody labels. ``inbox train`` routes that history with the router built from
the labelled examples, keeps the messages the router is sure of (top probability at or
above ``min_confidence``) as examples of the team it chose, and saves them beside the
model that encoded them. The service's router then learns from both: the labelled
examples draw the teams, the history fills in how customers really phrase them.

Measured on BANKING77 with 10 labelled examples per intent and the rest of the train
file as unlabelled history, this adds about 1.5 points (docs/BENCHMARKS.md). Only the
head learns from these guesses, never the encoder: training the encoder on them as well
was tried and did not pay for its minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.embedder import Vectors
from classifiers.router import LabelledExample, Router

HISTORY_FILE = "inbox-history.npz"
HISTORY_CONFIDENCE = 0.8  # the router's probability from which it trusts its own label


@dataclass(frozen=True)
class LearnedHistory:
    """Messages labelled by the router itself, with the vectors the model gave them."""

    examples: list[LabelledExample]
    vectors: Vectors  # made by the model saved beside them: only valid with it

    def __len__(self) -> int:
        return len(self.examples)

    def for_teams(self, teams: set[str]) -> LearnedHistory:
        """Only the examples of teams that still exist."""
        keep = [i for i, e in enumerate(self.examples) if e.team in teams]
        return LearnedHistory([self.examples[i] for i in keep], self.vectors[keep])


def pseudo_label(
    router: Router,
    texts: Sequence[str],
    vectors: Vectors,
    *,
    min_confidence: float,
) -> LearnedHistory:
    """The messages the router routes with at least ``min_confidence``, as its examples."""
    x = np.asarray(vectors, dtype=np.float32)
    if not len(texts):
        return LearnedHistory([], x[:0])
    probs = router.probabilities(x)
    teams = router.teams
    best = probs.argmax(axis=1)
    sure = np.flatnonzero(probs.max(axis=1) >= min_confidence)
    examples = [LabelledExample(teams[int(best[i])], texts[int(i)], learned=True) for i in sure]
    return LearnedHistory(examples, x[sure])


def save_history(folder: Path, history: LearnedHistory) -> None:
    """Writes the learned examples beside the model that encoded them."""
    np.savez_compressed(
        folder / HISTORY_FILE,
        teams=np.array([e.team for e in history.examples], dtype=str),
        texts=np.array([e.text for e in history.examples], dtype=str),
        vectors=np.asarray(history.vectors, dtype=np.float32),
    )


def load_history(folder: Path) -> LearnedHistory | None:
    """The examples saved in ``folder`` by ``save_history``, if any."""
    path = folder / HISTORY_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as saved:
        examples = [
            LabelledExample(str(team), str(text), learned=True)
            for team, text in zip(saved["teams"], saved["texts"], strict=True)
        ]
        vectors = np.asarray(saved["vectors"], dtype=np.float32)
    return LearnedHistory(examples, vectors)
