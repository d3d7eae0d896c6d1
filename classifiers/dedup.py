"""Near-duplicate detection: is this message the same issue as one the customer raised?

A pure function of embeddings. A new message is compared with the customer's recent
messages in open conversations (any channel, once identities are linked); at or above
``auto_merge`` it joins that conversation, in the band down to ``suggest`` an agent is
offered the merge, below it the message stands alone. Each decision carries its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from classifiers.embedder import Vectors

Verdict = Literal["merge", "suggest", "distinct"]


@dataclass(frozen=True)
class Candidate:
    """An earlier message of the same customer that a new one may repeat."""

    message_id: int
    conversation_id: int
    reference: int
    created_at: float


@dataclass(frozen=True)
class DuplicateDecision:
    """The verdict for one message, with the closest earlier message as evidence."""

    verdict: Verdict
    similarity: float
    candidate: Candidate | None
    auto_merge: float
    suggest: float

    def evidence(self) -> dict[str, Any]:
        """The decision as the audit trail and the agent API show it."""
        found = self.candidate
        return {
            "verdict": self.verdict,
            "similarity": round(self.similarity, 4),
            "auto_merge_threshold": self.auto_merge,
            "suggest_threshold": self.suggest,
            "message_id": found.message_id if found else None,
            "conversation_id": found.conversation_id if found else None,
            "reference": found.reference if found else None,
        }


class Deduper:
    """Decides merge / suggest / distinct by cosine similarity to earlier messages."""

    def __init__(self, auto_merge: float, suggest: float) -> None:
        if not -1.0 <= suggest <= auto_merge <= 1.0:
            raise ValueError("need -1 <= suggest <= auto_merge <= 1")
        self.auto_merge = auto_merge
        self.suggest = suggest

    def verdict(self, similarity: float) -> Verdict:
        """The band a similarity falls in."""
        if similarity >= self.auto_merge:
            return "merge"
        if similarity >= self.suggest:
            return "suggest"
        return "distinct"

    def decide(
        self, vector: Vectors, candidates: Sequence[Candidate], candidate_vectors: Vectors
    ) -> DuplicateDecision:
        """Compares one message with its customer's earlier messages."""
        if not candidates:
            return DuplicateDecision("distinct", 0.0, None, self.auto_merge, self.suggest)
        sims = np.asarray(candidate_vectors, dtype=np.float32) @ np.asarray(
            vector, dtype=np.float32
        ).reshape(-1)
        best = int(sims.argmax())
        similarity = float(sims[best])
        verdict = self.verdict(similarity)
        return DuplicateDecision(
            verdict,
            similarity,
            candidates[best],
            self.auto_merge,
            self.suggest,
        )


def vector_bytes(vector: Vectors) -> bytes:
    """One embedding as stored: float32, little-endian."""
    return np.asarray(vector, dtype="<f4").reshape(-1).tobytes()


def vector_of(data: bytes) -> Vectors:
    """An embedding back from its stored bytes."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
