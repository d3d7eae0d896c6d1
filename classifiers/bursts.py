"""Burst detection: many customers writing about the same thing within a short window.

Online leader clustering over the embeddings of new conversations, across customers and
channels: a message joins the closest live cluster whose centroid is at least
``similarity`` away, or starts its own. A cluster lives while members keep arriving
within ``window`` seconds of each other; once it holds ``customers`` distinct customers
it becomes an incident, and later members join that incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from classifiers.embedder import Vectors


@dataclass(frozen=True)
class Member:
    """A new conversation's first message."""

    conversation_id: int
    contact_id: int
    created_at: float
    vector: Vectors


@dataclass
class Cluster:
    """Similar messages close in time; an incident once enough customers are in it."""

    members: list[Member] = field(default_factory=list)
    similarities: list[float] = field(default_factory=list)
    total: Vectors | None = None
    incident_id: int | None = None
    latest: float = 0.0  # when the newest member arrived

    @property
    def customers(self) -> int:
        """Distinct customers in the cluster."""
        return len({m.contact_id for m in self.members})

    def centroid(self) -> Vectors:
        """The unit-length mean of the members."""
        assert self.total is not None
        norm = float(np.linalg.norm(self.total)) or 1.0
        return np.asarray(self.total / norm, dtype=np.float32)

    def add(self, member: Member, similarity: float) -> None:
        """Takes one more member."""
        self.members.append(member)
        self.similarities.append(similarity)
        self.latest = max(self.latest, member.created_at)
        vector = np.asarray(member.vector, dtype=np.float32)
        self.total = vector.copy() if self.total is None else self.total + vector


@dataclass(frozen=True)
class BurstEvent:
    """What a new member did: raised an incident, or joined one already raised."""

    kind: Literal["raise", "join"]
    cluster: Cluster
    member: Member
    similarity: float
    # On "raise": every member so far, with its similarity when it joined.
    members: tuple[tuple[Member, float], ...] = ()


class BurstDetector:
    """Feeds messages in arrival order; reports incidents as they form and grow.

    The live clusters' centroids are kept as one matrix, so placing a message is one
    matrix-vector product however many clusters there are.
    """

    def __init__(self, similarity: float, customers: int, window: float) -> None:
        self.similarity = similarity
        self.customers = customers
        self.window = window
        self.clusters: list[Cluster] = []
        self._centroids = np.zeros((0, 0), dtype=np.float32)

    def _expire(self, horizon: float) -> None:
        alive = [i for i, c in enumerate(self.clusters) if c.latest >= horizon]
        if len(alive) != len(self.clusters):
            self.clusters = [self.clusters[i] for i in alive]
            self._centroids = self._centroids[alive]

    def add(self, member: Member, incident_id: int | None = None) -> BurstEvent | None:
        """Clusters one message; ``incident_id`` marks one already known to be a member
        (when the detector is rebuilt from the store after a restart)."""
        self._expire(member.created_at - self.window)
        vector = np.asarray(member.vector, dtype=np.float32).reshape(-1)
        index, similarity = -1, -1.0
        if self.clusters:
            sims = self._centroids @ vector
            index = int(sims.argmax())
            similarity = float(sims[index])
        if index < 0 or similarity < self.similarity:
            self.clusters.append(Cluster())
            row = vector.reshape(1, -1)
            empty = not len(self._centroids)
            self._centroids = row.copy() if empty else np.vstack([self._centroids, row])
            index, similarity = len(self.clusters) - 1, 1.0
        best = self.clusters[index]
        if any(m.conversation_id == member.conversation_id for m in best.members):
            return None
        best.add(member, similarity)
        self._centroids[index] = best.centroid()
        if incident_id is not None:
            best.incident_id = best.incident_id or incident_id
            return None
        if best.incident_id is not None:
            return BurstEvent("join", best, member, similarity)
        if best.customers == self.customers:
            members = tuple(zip(best.members, best.similarities, strict=True))
            return BurstEvent("raise", best, member, similarity, members)
        return None
