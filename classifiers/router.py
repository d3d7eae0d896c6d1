"""The intent router: nearest labelled examples in embedding space, with an honest abstain.

Each team is scored by a blend of its nearest example's cosine similarity and its
centroid's; a softmax over those scores (with a temperature) is the confidence. Below
the threshold, or with the top two teams too close, the message goes to the fallback team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.embedder import Vectors
from inbox.models import NearestExample, RoutingDecision


@dataclass(frozen=True)
class LabelledExample:
    """A phrase known to belong to a team."""

    team: str
    text: str


class Router:
    """Routes embeddings to teams; learns new examples at once, with no restart."""

    def __init__(
        self,
        examples: Sequence[LabelledExample],
        vectors: Vectors,
        *,
        threshold: float,
        margin: float,
        fallback_team: str,
        evidence_examples: int = 3,
        temperature: float = 0.05,
        nearest_weight: float = 0.5,
    ) -> None:
        if len(examples) != len(vectors) or not examples:
            raise ValueError("the router needs one vector per example, and at least one")
        self.threshold = threshold
        self.margin = margin
        self.fallback_team = fallback_team
        self.evidence_examples = evidence_examples
        self.temperature = temperature
        self.nearest_weight = nearest_weight
        self._examples: list[LabelledExample] = list(examples)
        self._vectors = np.asarray(vectors, dtype=np.float32)
        self._rebuild()

    @property
    def teams(self) -> list[str]:
        """The teams the router can predict."""
        return list(self._teams)

    def _rebuild(self) -> None:
        self._teams = sorted({e.team for e in self._examples})
        index = {team: i for i, team in enumerate(self._teams)}
        self._labels = np.array([index[e.team] for e in self._examples], dtype=np.int64)
        centroids = np.zeros((len(self._teams), self._vectors.shape[1]), dtype=np.float32)
        np.add.at(centroids, self._labels, self._vectors)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        self._centroids = centroids / np.maximum(norms, 1e-12)

    def add_example(self, example: LabelledExample, vector: Vectors) -> None:
        """Learns one more labelled example (an agent's correction) immediately."""
        row = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        self._examples.append(example)
        self._vectors = np.vstack([self._vectors, row])
        self._rebuild()

    def scores(self, vectors: Vectors) -> np.ndarray:
        """Per-team scores, one row per input vector."""
        sims = vectors @ self._vectors.T  # (n, examples)
        nearest = np.full((len(vectors), len(self._teams)), -1.0, dtype=np.float32)
        for t in range(len(self._teams)):
            mask = self._labels == t
            nearest[:, t] = sims[:, mask].max(axis=1)
        centroid = vectors @ self._centroids.T
        blended: np.ndarray = self.nearest_weight * nearest + (1 - self.nearest_weight) * centroid
        return blended

    def probabilities(self, vectors: Vectors) -> np.ndarray:
        """A softmax over team scores: the confidence of each team."""
        logits = self.scores(vectors) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probs

    def predict(self, vectors: Vectors) -> list[str]:
        """The most likely team for each vector, never abstaining (for evaluation)."""
        best = self.scores(vectors).argmax(axis=1)
        return [self._teams[i] for i in best]

    def route(self, vectors: Vectors) -> list[RoutingDecision]:
        """Decides a team for each vector, with confidence and the nearest examples."""
        if len(vectors) == 0:
            return []
        probs = self.probabilities(vectors)
        sims = vectors @ self._vectors.T
        decisions: list[RoutingDecision] = []
        for row, sim_row in zip(probs, sims, strict=True):
            order = np.argsort(row)[::-1]
            top = float(row[order[0]])
            second = float(row[order[1]]) if len(order) > 1 else 0.0
            predicted = self._teams[int(order[0])]
            abstain = top < self.threshold or (top - second) < self.margin
            nearest_ids = np.argsort(sim_row)[::-1][: self.evidence_examples]
            nearest = tuple(
                NearestExample(self._examples[i].team, self._examples[i].text, float(sim_row[i]))
                for i in nearest_ids
            )
            decisions.append(
                RoutingDecision(
                    team=self.fallback_team if abstain else predicted,
                    confidence=top,
                    predicted_team=predicted,
                    threshold=self.threshold,
                    abstained=abstain,
                    nearest=nearest,
                )
            )
        return decisions
