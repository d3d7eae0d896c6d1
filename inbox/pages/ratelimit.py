"""A per-key token bucket (per client IP for the web channels)."""

from __future__ import annotations

import time


class RateLimiter:
    """Allows ``per_minute`` events per key, refilled continuously, with a small burst."""

    def __init__(self, per_minute: int, burst: int | None = None, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> float:
        """0 if allowed now (and counts it), else the seconds to wait."""
        stamp = time.monotonic()
        tokens, last = self._buckets.get(key, (self.capacity, stamp))
        tokens = min(self.capacity, tokens + (stamp - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, stamp)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory beats perfect fairness under a flood
        self._buckets[key] = (tokens - 1.0, stamp)
        return 0.0
