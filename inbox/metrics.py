"""Prometheus metrics of one process, in the text exposition format (no client library).

Counters and histograms are updated where the work happens (the worker, the outbox
sender); gauges that describe shared state (queue depth, outbox backlog) are read when
``/metrics`` is scraped, by the probes the process registers.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

Probe = Callable[[], Awaitable[float]]

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass
class Histogram:
    """Observations in cumulative buckets, with their sum and count."""

    buckets: Sequence[float] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Counts one observation."""
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        out: list[str] = []
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            running += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.count}")
        return out


@dataclass
class _Family:
    kind: str  # counter, gauge or histogram
    help: str


class Metrics:
    """One process's metrics."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self.counters: dict[str, float] = {}
        self.histograms: dict[str, Histogram] = {}
        self.probes: dict[str, Probe] = {}

    def declare(self, name: str, kind: str, help_text: str) -> None:
        """Lists a counter or histogram before its first update, so it shows as zero."""
        self._families.setdefault(name, _Family(kind, help_text))

    def count(
        self, name: str, amount: float = 1.0, labels: Mapping[str, str] | None = None
    ) -> None:
        """Adds to a declared counter (``name`` ends in ``_total``), or to one of its
        labelled series (``labels={"reason": "group"}``)."""
        key = _series(name, labels) if labels else name
        self.counters[key] = self.counters.get(key, 0.0) + amount

    def observe(self, name: str, value: float) -> None:
        """Records one observation in a declared histogram."""
        self.histograms.setdefault(name, Histogram()).observe(value)

    def gauge(self, name: str, help_text: str, probe: Probe) -> None:
        """Registers a gauge read at scrape time."""
        self.declare(name, "gauge", help_text)
        self.probes[name] = probe

    async def render(self) -> str:
        """The exposition text. A probe that fails is left out (its failure shows in
        ``inbox_probe_errors``) rather than failing the scrape."""
        lines: list[str] = []
        failed = 0
        for name, family in sorted(self._families.items()):
            values: list[str] = []
            if family.kind == "counter":
                labelled = sorted(k for k in self.counters if k.startswith(name + "{"))
                values = [f"{k} {self.counters[k]:g}" for k in labelled] or [
                    f"{name} {self.counters.get(name, 0.0):g}"
                ]
            elif family.kind == "histogram":
                values = self.histograms.get(name, Histogram()).lines(name)
            else:
                try:
                    value = await self.probes[name]()
                except Exception:
                    failed += 1
                    continue
                values = [f"{name} {value:g}" if math.isfinite(value) else f"{name} NaN"]
            lines += [f"# HELP {name} {family.help}", f"# TYPE {name} {family.kind}", *values]
        lines += [
            "# HELP inbox_probe_errors Gauges that could not be read in this scrape.",
            "# TYPE inbox_probe_errors gauge",
            f"inbox_probe_errors {failed}",
        ]
        return "\n".join(lines) + "\n"


def _series(name: str, labels: Mapping[str, str]) -> str:
    """A counter's labelled series as the exposition format writes it: ``name{k="v"}``.
    Label values are the code's own words (a reason, a channel), never customer input."""
    pairs = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{pairs}}}"
