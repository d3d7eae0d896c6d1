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

    @property
    def customers(self) -> int:
        """Distinct customers in the cluster."""
        return len({m.contact_id for m in self.members})

    @property
    def latest(self) -> float:
        """When the newest member arrived."""
        return max(m.created_at for m in self.members)

    def centroid(self) -> Vectors:
        """The unit-length mean of the members."""
        assert self.total is not None
        norm = float(np.linalg.norm(self.total)) or 1.0
        return np.asarray(self.total / norm, dtype=np.float32)

    def add(self, member: Member, similarity: float) -> None:
        """Takes one more member."""
        self.members.append(member)
        self.similarities.append(similarity)
        vector = np.asarray(member.vector, dtype=np.float32)
        self.total = vector.copy() if self.total is None else self.total + vector


@dataclass(frozen=True)
class BurstEvent:
    """What a new member did: raised an incident, or joined one already raised."""

    kind: Literal["raise", "join"]
    cluster: Cluster
    member: Member
    similarity: float


class BurstDetector:
    """Feeds messages in arrival order; reports incidents as they form and grow."""

    def __init__(self, similarity: float, customers: int, window: float) -> None:
        self.similarity = similarity
        self.customers = customers
        self.window = window
        self.clusters: list[Cluster] = []

    def add(self, member: Member, incident_id: int | None = None) -> BurstEvent | None:
        """Clusters one message; ``incident_id`` marks one already known to be a member
        (when the detector is rebuilt from the store after a restart)."""
        horizon = member.created_at - self.window
        self.clusters = [c for c in self.clusters if c.latest >= horizon]
        best: Cluster | None = None
        best_similarity = -1.0
        for cluster in self.clusters:
            similarity = float(cluster.centroid() @ np.asarray(member.vector, dtype=np.float32))
            if similarity > best_similarity:
                best, best_similarity = cluster, similarity
        if best is None or best_similarity < self.similarity:
            best, best_similarity = Cluster(), 1.0
            self.clusters.append(best)
        known = {m.conversation_id for m in best.members}
        if member.conversation_id in known:
            return None
        best.add(member, best_similarity)
        if incident_id is not None:
            best.incident_id = best.incident_id or incident_id
            return None
        if best.incident_id is not None:
            return BurstEvent("join", best, member, best_similarity)
        if best.customers >= self.customers:
            return BurstEvent("raise", best, member, best_similarity)
        return None
