"""Groups of texts that say the same thing, from their embeddings: what the supervisor's
"questions the bot could not answer" list is made of.

Greedy and deterministic: the text with the most neighbours at or above ``threshold``
(cosine) leads a group of those neighbours still free; repeat until every text has a
group. A leader is the most central text of its group, so it stands for it. Quadratic in
the number of texts (one similarity matrix; the neighbour counts are updated, not
recounted), which is why callers cap how many they pass.
"""

from __future__ import annotations

import numpy as np

from classifiers.embedder import Vectors


def group_similar(vectors: Vectors, threshold: float) -> list[list[int]]:
    """Row indices of ``vectors`` in groups, the biggest first (ties: the earlier leader
    first); each group starts with its leader, the rest in row order."""
    count = len(vectors)
    if count == 0:
        return []
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    close = (unit @ unit.T) >= threshold
    np.fill_diagonal(close, True)
    free = np.ones(count, dtype=bool)
    neighbours = close.sum(axis=1).astype(np.int64)
    groups: list[list[int]] = []
    while free.any():
        leader = int(np.argmax(np.where(free, neighbours, -1)))
        if neighbours[leader] == 1:  # nobody left has a neighbour: the rest stand alone
            groups.extend([int(i)] for i in np.flatnonzero(free))
            break
        members = np.flatnonzero(close[leader] & free)
        free[members] = False
        neighbours -= close[:, members].sum(axis=1)
        groups.append([leader, *(int(m) for m in members if m != leader)])
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i]), i))
    return [groups[i] for i in order]
