"""The intent router: a softmax-regression head on frozen sentence embeddings.

Fitted in NumPy from every labelled example (config phrases plus agents' corrections)
in tens of milliseconds, so a correction is learnt at once; one that contradicts the
config phrases counts in full only once other corrections agree (see ``teachings``).
The confidence is the top softmax probability at a temperature chosen on held-out data;
the router abstains to the fallback team below the threshold, when the top two teams
are too close, or when no example is even remotely similar (an out-of-scope guard the
regression alone lacks).
Nearest examples are kept as the evidence an agent sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from classifiers.embedder import Vectors
from inbox.models import NearestExample, RoutingDecision

Matrix = np.ndarray
DEFAULT_TEMPERATURE = 0.7  # chosen on held-out data for routers on labelled examples
# The share of a team's own examples (each left out in turn) allowed to fall short of the
# closeness a message needs to go to that team: 1 % costs BANKING77 and Bitext under one
# point of in-scope accuracy (docs/BENCHMARKS.md, out of scope).
IN_SCOPE_QUANTILE = 0.01
# An agent's correction against a configured phrase (one of another team at least
# CONTESTED_SIMILARITY similar to it) counts fully once CORROBORATION corrections of its
# team, each at least CORROBORATION_SIMILARITY similar to it, say the same (see teachings).
CONTESTED_SIMILARITY = 0.5
CORROBORATION = 3
CORROBORATION_SIMILARITY = 0.6


@dataclass(frozen=True)
class LabelledExample:
    """A phrase known to belong to a team.

    ``learned`` marks a customer message the router labelled itself (``inbox train``
    learning from history): it teaches the router, but is never shown as evidence, since
    it is another customer's words and nobody confirmed it. ``correction`` is the id of
    the stored correction an agent taught (0: a configured phrase): against a configured
    phrase it counts by how many other corrections agree with it (see ``teachings``).
    """

    team: str
    text: str
    learned: bool = False
    correction: int = 0


@dataclass(frozen=True)
class SoftmaxHead:
    """Fitted weights of the regression head."""

    weights: Matrix
    bias: Matrix
    teams: tuple[str, ...]


@dataclass(frozen=True)
class Fitted:
    """Everything the router knows, swapped in whole when it learns."""

    examples: tuple[LabelledExample, ...]
    vectors: Matrix
    labels: Matrix  # each example's team, as an index into head.teams
    head: SoftmaxHead
    shown: Matrix  # which examples may be shown as evidence
    closeness: float  # how close a message must come to its team's examples (see own_closeness)
    targets: Matrix  # what each example teaches, a distribution over teams (see teachings)
    corrections: frozenset[int]  # the ids of the agents' corrections among the examples

    @classmethod
    def fit(
        cls,
        examples: Sequence[LabelledExample],
        vectors: Vectors,
        start: SoftmaxHead | None = None,
    ) -> Fitted:
        """Fits the regression head on the examples, from ``start`` when it has the same
        teams (a refit after a correction then needs a third of the steps)."""
        teams = tuple(sorted({e.team for e in examples}))
        index = {team: i for i, team in enumerate(teams)}
        labels = np.array([index[e.team] for e in examples], dtype=np.int64)
        x = np.asarray(vectors, dtype=np.float32)
        targets = teachings(examples, x, labels, len(teams))
        if start is not None and start.teams == teams:
            weights, bias = fit_softmax(
                x, labels, len(teams), start=(start.weights, start.bias), steps=100, targets=targets
            )
        else:
            weights, bias = fit_softmax(x, labels, len(teams), targets=targets)
        shown = np.array([not e.learned for e in examples], dtype=bool)
        loose = own_closeness(x, labels, shown)
        closeness = float(np.quantile(loose, IN_SCOPE_QUANTILE)) if len(loose) else 0.0
        head = SoftmaxHead(weights, bias, teams)
        taught = frozenset(e.correction for e in examples if e.correction)
        return cls(tuple(examples), x, labels, head, shown, closeness, targets, taught)


def teachings(
    examples: Sequence[LabelledExample], vectors: Matrix, labels: Matrix, classes: int
) -> Matrix:
    """What each example teaches the regression and the neighbour vote: its team, except
    for an agent's correction that contradicts the configured phrases.

    A correction is contested when a configured phrase of another team is at least
    ``CONTESTED_SIMILARITY`` similar to it and closer than every phrase of its own team
    ("I was billed twice for March" to accounts, beside billing's "I was charged twice
    for the same month"). One such correction is one person's judgement of one message
    (or a slip of the hand): it teaches its team with weight ``n / CORROBORATION``, ``n``
    being the corrections of its team at least ``CORROBORATION_SIMILARITY`` similar to
    it (itself included), and the contesting phrase's team with the rest. Alone it thus
    loses to the configured phrase; several that agree win. A correction nothing
    configured contradicts (a topic no phrase covers) teaches its team fully at once.
    """
    targets: Matrix = np.eye(classes, dtype=np.float32)[labels]
    corrected = np.array([e.correction > 0 for e in examples], dtype=bool)
    configured = np.array([not (e.correction or e.learned) for e in examples], dtype=bool)
    if not corrected.any() or not configured.any():
        return targets
    rows, phrases = np.flatnonzero(corrected), np.flatnonzero(configured)
    sims = vectors[rows] @ vectors[phrases].T
    same = labels[rows][:, None] == labels[phrases][None, :]
    own = np.where(same, sims, -np.inf).max(axis=1)
    other_sims = np.where(same, -np.inf, sims)
    rival = other_sims.argmax(axis=1)
    closest = other_sims[np.arange(len(rows)), rival]
    contested = (closest >= CONTESTED_SIMILARITY) & (closest > own)
    if not contested.any():
        return targets
    weight = agreement(vectors[rows], labels[rows])
    for i in np.flatnonzero(contested & (weight < 1)):
        row, w = rows[i], float(weight[i])
        targets[row] *= w
        targets[row, labels[phrases[rival[i]]]] += 1 - w
    return targets


def held_back(examples: Sequence[LabelledExample], vectors: Vectors) -> list[bool]:
    """Which examples are agents' corrections that still count for less than their team
    (contested by a configured phrase and not yet corroborated, see ``teachings``):
    fine-tuning, which weighs every pair alike, must leave them out until others agree."""
    if not examples:
        return []
    teams = sorted({e.team for e in examples})
    labels = np.array([teams.index(e.team) for e in examples], dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float32)
    targets = teachings(examples, x, labels, len(teams))
    return [bool(targets[i, labels[i]] < 1.0) for i in range(len(examples))]


def agreement(vectors: Matrix, labels: Matrix, chunk: int = 1024) -> Matrix:
    """How much each correction counts (0..1): ``n / CORROBORATION`` at most 1, ``n``
    being the corrections of its team at least ``CORROBORATION_SIMILARITY`` similar to
    it, itself included."""
    weights = np.ones(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), chunk):  # in blocks: all pairs at once can be GBs
        block = slice(start, start + chunk)
        close = (vectors[block] @ vectors.T) >= CORROBORATION_SIMILARITY
        close &= labels[block][:, None] == labels[None, :]
        weights[block] = np.minimum(1.0, close.sum(axis=1) / CORROBORATION)
    return weights


def own_closeness(vectors: Matrix, labels: Matrix, shown: Matrix, chunk: int = 1024) -> Matrix:
    """Each labelled example's similarity to the nearest other example of its team.

    Left out in turn, a labelled example is a message of its team the router never saw:
    these similarities are how close such messages come, so a message much further from
    the team it would go to than nearly all of them is not a message of that team.
    Examples alone in their team say nothing and are skipped.
    """
    rows = np.flatnonzero(shown)
    found: list[Matrix] = []
    for start in range(0, len(rows), chunk):  # in blocks: all pairs at once can be GBs
        block = rows[start : start + chunk]
        sims = vectors[block] @ vectors.T
        sims[np.arange(len(block)), block] = -np.inf
        sims[labels[block][:, None] != labels[None, :]] = -np.inf
        found.append(sims.max(axis=1))
    nearest = np.concatenate(found) if found else np.zeros(0, dtype=np.float32)
    return nearest[np.isfinite(nearest)]


def fit_softmax(
    vectors: Vectors,
    labels: np.ndarray,
    classes: int,
    *,
    l2: float = 1e-5,
    steps: int = 300,
    learning_rate: float = 30.0,
    start: tuple[Matrix, Matrix] | None = None,
    targets: Matrix | None = None,
) -> tuple[Matrix, Matrix]:
    """Multinomial logistic regression by full-batch Nesterov gradient descent, towards
    ``targets`` (a distribution per example; the label's team when not given)."""
    x = np.asarray(vectors, dtype=np.float32)
    n, d = x.shape
    if targets is None:
        targets = np.eye(classes, dtype=np.float32)[labels]
    if start is None:
        w = w_prev = np.zeros((d, classes), dtype=np.float32)
        b = b_prev = np.zeros(classes, dtype=np.float32)
    else:
        w = w_prev = np.asarray(start[0], dtype=np.float32)
        b = b_prev = np.asarray(start[1], dtype=np.float32)
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
        temperature: float = DEFAULT_TEMPERATURE,
        neighbours: int = 5,
        neighbour_weight: float = 0.3,
        overrule_similarity: float = 0.8,
    ) -> None:
        if len(examples) != len(vectors) or not examples:
            raise ValueError("the router needs one vector per example, and at least one")
        self.threshold = threshold
        self.margin = margin
        self.fallback_team = fallback_team
        self.min_similarity = min_similarity
        self.evidence_examples = evidence_examples
        self.temperature = temperature
        self.neighbours = neighbours
        self.neighbour_weight = neighbour_weight
        self.overrule_similarity = overrule_similarity
        self._fitted = Fitted.fit(*self._overrule(examples, vectors))

    @property
    def teams(self) -> list[str]:
        """The teams the router can predict."""
        return list(self._fitted.head.teams)

    @property
    def example_counts(self) -> tuple[int, int]:
        """How many examples it learns from: labelled ones, and ones learnt from history."""
        shown = int(self._fitted.shown.sum())
        return shown, len(self._fitted.examples) - shown

    def add_example(self, example: LabelledExample, vector: Vectors) -> None:
        """Learns one more labelled example (an agent's correction) and refits."""
        self.add_examples([example], vector)

    def add_examples(self, examples: Sequence[LabelledExample], vectors: Vectors) -> None:
        """Learns more labelled examples, one vector row each, and refits once.

        The new state is built aside and swapped in whole, so a concurrent ``route``
        sees either the old router or the new one, never a mix. A labelled example
        overrules what the router once guessed itself: learned examples close to it
        (similarity ``overrule_similarity`` or more) that name another team are dropped,
        or they would keep voting for the routing the agent just corrected.
        """
        old = self._fitted
        rows = np.asarray(vectors, dtype=np.float32).reshape(len(examples), -1)
        everything = [*old.examples, *examples]
        kept, kept_vectors = self._overrule(everything, np.vstack([old.vectors, rows]))
        self._fitted = Fitted.fit(kept, kept_vectors, start=old.head)

    def forget(self, corrections: AbstractSet[int]) -> None:
        """Unlearns the given corrections (by id: an undone one) and refits.

        The refit starts afresh, not from the current weights, which would keep a trace
        of what it unlearns: the router is then the one a restart would build. Learned
        examples an undone correction overruled stay dropped until the next start, when
        the history is read again.
        """
        old = self._fitted
        keep = np.array([e.correction not in corrections for e in old.examples], dtype=bool)
        if keep.all():
            return
        kept = [e for e, k in zip(old.examples, keep, strict=True) if k]
        self._fitted = Fitted.fit(kept, old.vectors[keep])

    @property
    def corrections(self) -> frozenset[int]:
        """The ids of the corrections it has learnt."""
        return self._fitted.corrections

    def _overrule(
        self, examples: Sequence[LabelledExample], vectors: Vectors
    ) -> tuple[list[LabelledExample], Matrix]:
        """Drops the learned examples that a labelled one close to them contradicts."""
        x = np.asarray(vectors, dtype=np.float32)
        learned = np.array([e.learned for e in examples], dtype=bool)
        if not learned.any() or learned.all():
            return list(examples), x
        teams = np.array([e.team for e in examples])
        close = (x[learned] @ x[~learned].T) >= self.overrule_similarity
        differ = teams[learned][:, None] != teams[~learned][None, :]
        keep = np.ones(len(examples), dtype=bool)
        keep[np.flatnonzero(learned)] = ~(close & differ).any(axis=1)
        return [e for e, k in zip(examples, keep, strict=True) if k], x[keep]

    def probabilities(self, vectors: Vectors) -> Matrix:
        """Probabilities per team, one row per input vector.

        The regression's softmax, blended (geometrically) with a vote of the nearest
        examples: the regression draws smooth borders, the neighbours keep the detail
        of small groups of phrasings that a linear border averages away.
        """
        return self._probabilities(self._fitted, np.asarray(vectors, dtype=np.float32))

    def _probabilities(self, fitted: Fitted, x: Matrix, sims: Matrix | None = None) -> Matrix:
        probs = self._softmax(fitted.head, x)
        if self.neighbour_weight > 0:
            votes = self._neighbour_votes(fitted, x @ fitted.vectors.T if sims is None else sims)
            blended = (1 - self.neighbour_weight) * np.log(probs + 1e-12)
            blended += self.neighbour_weight * np.log(votes)
            blended -= blended.max(axis=1, keepdims=True)
            probs = np.exp(blended)
            probs /= probs.sum(axis=1, keepdims=True)
        return probs

    def _softmax(self, head: SoftmaxHead, x: Matrix) -> Matrix:
        logits = (x @ head.weights + head.bias) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs: Matrix = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs

    def _neighbour_votes(
        self, fitted: Fitted, similarities: Matrix, sharpness: float = 0.05
    ) -> Matrix:
        """Each of the k nearest examples votes for its team, closer ones louder."""
        k = min(self.neighbours, similarities.shape[1])
        nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        rows = np.arange(similarities.shape[0])[:, None]
        weights = np.exp((similarities[rows, nearest] - 1.0) / sharpness)
        # Each neighbour votes for what it teaches (a lone correction: only in part).
        votes = np.full((similarities.shape[0], len(fitted.head.teams)), 1e-6)
        votes += np.einsum("nk,nkc->nc", weights, fitted.targets[nearest])
        votes /= votes.sum(axis=1, keepdims=True)
        return votes

    def predict(self, vectors: Vectors) -> list[str]:
        """The most likely team for each vector, never abstaining (for evaluation)."""
        teams = self._fitted.head.teams
        return [teams[i] for i in self.probabilities(vectors).argmax(axis=1)]

    def route(self, vectors: Vectors) -> list[RoutingDecision]:
        """Decides a team for each vector, with confidence and the evidence for it."""
        if len(vectors) == 0:
            return []
        fitted = self._fitted  # one snapshot for the whole batch
        x = np.asarray(vectors, dtype=np.float32)
        sims = x @ fitted.vectors.T
        probs = self._probabilities(fitted, x, sims)
        return [
            self._decide(fitted, row, sim_row) for row, sim_row in zip(probs, sims, strict=True)
        ]

    def _decide(self, fitted: Fitted, probs: Matrix, sims: Matrix) -> RoutingDecision:
        """One message's decision: the likeliest team, unless the message is far from that
        team's examples, the router is unsure, or the top two teams are too close."""
        order = np.argsort(probs)[::-1]
        top = float(probs[order[0]])
        second = float(probs[order[1]]) if len(order) > 1 else 0.0
        predicted = int(order[0])
        # Closeness to the chosen team's own examples, not to any example: a message near
        # an orders phrase is no evidence for general, however sure the regression is.
        # The bar is the configured floor, or higher where the team's examples are dense.
        bar = max(self.min_similarity, fitted.closeness)
        own = float(sims[fitted.labels == predicted].max())
        team = fitted.head.teams[predicted]
        reason = ""
        if own < bar:
            reason = (
                f"not close to any team's examples (the nearest, not close enough, scores "
                f"{float(sims.max()):.2f}; {bar:.2f} is needed)"
                if sims.max() < bar
                else f"not close to {team}'s examples ({own:.2f} < {bar:.2f}), the team the "
                "model leans to"
            )
        elif top < self.threshold:
            reason = f"confidence {top:.2f} is below the threshold {self.threshold}"
        elif (top - second) < self.margin:
            reason = f"the top two teams are within {self.margin} of each other"
        # The evidence supports the decision shown: the chosen team's nearest examples, or
        # for the fallback the nearest of any team, which the reason says were not enough.
        evidence = self._nearest(fitted, sims, None if reason else predicted)
        return RoutingDecision(
            team=self.fallback_team if reason else team,
            confidence=top,
            predicted_team=team,
            threshold=self.threshold,
            abstained=bool(reason),
            nearest=evidence,
            abstain_reason=reason,
        )

    def _nearest(
        self, fitted: Fitted, sims: Matrix, team: int | None
    ) -> tuple[NearestExample, ...]:
        """The most similar examples that may be shown, of one team or of any, in order."""
        allowed = fitted.shown if team is None else fitted.shown & (fitted.labels == team)
        ids = np.flatnonzero(allowed)
        k = min(self.evidence_examples, len(ids))
        if not k:
            return ()
        best = ids[np.argpartition(-sims[ids], k - 1)[:k]]
        best = best[np.argsort(-sims[best])]
        examples = fitted.examples
        return tuple(
            NearestExample(examples[i].team, examples[i].text, float(sims[i])) for i in best
        )
