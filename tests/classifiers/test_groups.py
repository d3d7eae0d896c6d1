"""Grouping texts by their embeddings: the biggest group first, led by its most central
member; every text in exactly one group."""

from __future__ import annotations

import numpy as np

from classifiers.groups import group_similar


def _unit(*angles: float) -> np.ndarray:
    """Unit vectors in the plane at ``angles`` (degrees): cosine = cos(difference)."""
    radians = np.radians(angles)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def test_nothing_to_group() -> None:
    assert group_similar(np.zeros((0, 4), dtype=np.float32), 0.6) == []


def test_the_most_central_leads_and_the_biggest_group_comes_first() -> None:
    # 0°, 20°, 40° close to each other (20° apart: cosine 0.94); 90° alone; 180° and 190°.
    vectors = _unit(90, 0, 20, 40, 180, 190)
    groups = group_similar(vectors, 0.9)
    assert groups == [[2, 1, 3], [4, 5], [0]]  # 20° is within reach of both 0° and 40°


def test_a_member_belongs_to_one_group_only() -> None:
    # 0° and 40° are both near 20° but not each other (cosine 0.77): the leader takes both.
    vectors = _unit(0, 20, 40, 60)
    groups = group_similar(vectors, 0.9)
    members = sorted(i for g in groups for i in g)
    assert members == [0, 1, 2, 3]
    assert groups[0][0] in (1, 2) and len(groups[0]) == 3


def test_lengths_do_not_matter() -> None:
    vectors = _unit(0, 5) * np.array([[3.0], [0.5]], dtype=np.float32)
    assert group_similar(vectors, 0.99) == [[0, 1]]
