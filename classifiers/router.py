"""The intent router: a softmax-regression head on frozen sentence embeddings.

Fitted in NumPy from every labelled example (config phrases plus agents' corrections)
in tens of milliseconds, so a correction is learnt at once. The confidence is the top
softmax probability at a temperature chosen on held-out data; the router abstains to the
fallback team below the threshold, when the top two teams are too close, or when no
example is even remotely similar (an out-of-scope guard the regression alone lacks).
Nearest examples are kept as the evidence an agent sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.embedder import Vectors
from inbox.models import NearestExample, RoutingDecision

Matrix = np.ndarray


@dataclass(frozen=True)
class LabelledExample:
    """A phrase known to belong to a team."""

    team: str
    text: str


@dataclass(frozen=True)
class SoftmaxHead:
    """Fitted weights of the regression head."""

    weights: Matrix
    bias: Matrix
    teams: tuple[str, ...]


def fit_softmax(
    vectors: Vectors,
    labels: np.ndarray,
    classes: int,
    *,
    l2: float = 1e-5,
    steps: int = 300,
    learning_rate: float = 30.0,
) -> tuple[Matrix, Matrix]:
    """Multinomial logistic regression by full-batch Nesterov gradient descent."""
    x = np.asarray(vectors, dtype=np.float32)
    n, d = x.shape
    targets = np.eye(classes, dtype=np.float32)[labels]
    w = w_prev = np.zeros((d, classes), dtype=np.float32)
    b = b_prev = np.zeros(classes, dtype=np.float32)
    for step in range(steps):
        momentum = step / (step + 3.0)
        w_look = w + momentum * (w - w_prev)
        b_look = b + momentum * (b - b_prev)
        logits = x @ w_look + b_look
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        gradient = (probs - targets) / n
        w_prev, b_prev = w, b
        w = w_look - learning_rate * (x.T @ gradient + l2 * w_look)
        b = b_look - learning_rate * gradient.sum(axis=0)
    return w, b


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
        min_similarity: float = 0.0,
        evidence_examples: int = 3,
        temperature: float = 0.7,
    ) -> None:
        if len(examples) != len(vectors) or not examples:
            raise ValueError("the router needs one vector per example, and at least one")
        self.threshold = threshold
        self.margin = margin
        self.fallback_team = fallback_team
        self.min_similarity = min_similarity
        self.evidence_examples = evidence_examples
        self.temperature = temperature
        self._examples: list[LabelledExample] = list(examples)
        self._vectors = np.asarray(vectors, dtype=np.float32)
        self._head = self._fit(self._examples, self._vectors)

    @property
    def teams(self) -> list[str]:
        """The teams the router can predict."""
        return list(self._head.teams)

    @staticmethod
    def _fit(examples: list[LabelledExample], vectors: Vectors) -> SoftmaxHead:
        teams = tuple(sorted({e.team for e in examples}))
        index = {team: i for i, team in enumerate(teams)}
        labels = np.array([index[e.team] for e in examples], dtype=np.int64)
        weights, bias = fit_softmax(vectors, labels, len(teams))
        return SoftmaxHead(weights, bias, teams)

    def add_example(self, example: LabelledExample, vector: Vectors) -> None:
        """Learns one more labelled example (an agent's correction) and refits.

        The new state is built aside and swapped in whole, so a concurrent ``route``
        sees either the old router or the new one, never a mix.
        """
        row = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        examples = [*self._examples, example]
        stacked = np.vstack([self._vectors, row])
        head = self._fit(examples, stacked)
        self._examples, self._vectors, self._head = examples, stacked, head

    def probabilities(self, vectors: Vectors) -> Matrix:
        """Softmax probabilities per team, one row per input vector."""
        head = self._head
        logits = (
            np.asarray(vectors, dtype=np.float32) @ head.weights + head.bias
        ) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs: Matrix = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs

    def predict(self, vectors: Vectors) -> list[str]:
        """The most likely team for each vector, never abstaining (for evaluation)."""
        teams = self._head.teams
        return [teams[i] for i in self.probabilities(vectors).argmax(axis=1)]

    def route(self, vectors: Vectors) -> list[RoutingDecision]:
        """Decides a team for each vector, with confidence and the nearest examples."""
        if len(vectors) == 0:
            return []
        examples, example_vectors, head = self._examples, self._vectors, self._head
        probs = self.probabilities(vectors)
        sims = np.asarray(vectors, dtype=np.float32) @ example_vectors.T
        decisions: list[RoutingDecision] = []
        for row, sim_row in zip(probs, sims, strict=True):
            order = np.argsort(row)[::-1]
            top = float(row[order[0]])
            second = float(row[order[1]]) if len(order) > 1 else 0.0
            predicted = head.teams[int(order[0])]
            nearest_ids = np.argsort(sim_row)[::-1][: self.evidence_examples]
            nearest = tuple(
                NearestExample(examples[i].team, examples[i].text, float(sim_row[i]))
                for i in nearest_ids
            )
            closest = float(sim_row.max())
            reason = ""
            if top < self.threshold:
                reason = f"confidence {top:.2f} is below the threshold {self.threshold}"
            elif (top - second) < self.margin:
                reason = f"the top two teams are within {self.margin} of each other"
            elif closest < self.min_similarity:
                reason = f"no example is similar enough ({closest:.2f} < {self.min_similarity})"
            abstain = bool(reason)
            decisions.append(
                RoutingDecision(
                    team=self.fallback_team if abstain else predicted,
                    confidence=top,
                    predicted_team=predicted,
                    threshold=self.threshold,
                    abstained=abstain,
                    nearest=nearest,
                    abstain_reason=reason,
                )
            )
        return decisions
