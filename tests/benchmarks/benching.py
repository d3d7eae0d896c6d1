"""What the channel benchmarks (``tests/benchmarks/bench_*.py``) share: their arguments
and how they print a latency."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from tests.support.paths import BITEXT_TEST


def arguments(description: str, items: str) -> argparse.Namespace:
    """``-n``/``--<items>`` (how many at once), ``--singles`` and ``--texts``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{items}", "-n", dest="count", type=int, default=2000)
    parser.add_argument("--singles", type=int, default=20)
    parser.add_argument("--texts", default=str(BITEXT_TEST))
    return parser.parse_args()


def latency(values_ms: Sequence[float]) -> str:
    """``p50 …, p95 …, max …`` in milliseconds."""
    arr = np.array(values_ms)
    p50, p95 = np.percentile(arr, [50, 95])
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {arr.max():.0f} ms"
