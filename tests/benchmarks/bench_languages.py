"""Routing in German, French and Spanish (issue 21): how many messages reach their team.

Run with ``python -m tests.benchmarks.bench_languages [--config config.toml]
[--setup today]``. The router is built as the worker builds it (``RoutingService.build``:
the configured teams' English example phrases, the ``[routing]`` settings), then routes
the 360 messages of ``classifiers/evaluation/data/routing_languages.toml`` (24 per default
team in each language). A message sent to the fallback team counts as a miss; the
router's first choice, had it never abstained, is printed beside it. Then the set-up's
encode throughput at batch 32 on those (short) texts, and the process's resident memory
once everything is loaded. The teams in the file are config.toml's defaults: with other
teams, every message is a miss. Nothing is asserted.

A set-up is one way of routing a message (``SETUPS``): ``today`` is the shipped encoder
for every message; ``two-encoders`` adds the multilingual encoder
(classifiers/multilingual.py) for the messages the language detector calls another
language (``second_encoder``). The throughput of such a set-up
on this test set counts both encodes, as every message here is not in English.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifiers.embedder import Embedder, SentenceTransformerEmbedder, Vectors
from classifiers.evaluation.languages import Tally, read_language_set, tally
from classifiers.meaning import LanguageDetector
from classifiers.multilingual import MultilingualEmbedder
from inbox.config.settings import Settings, load_settings
from inbox.models import RoutingDecision
from inbox.pipeline.language_routing import LanguageRouting
from inbox.pipeline.routing import RoutingService
from inbox.text import embedding_text
from tests.support.paths import ROOT

BATCH = 32
THROUGHPUT_SECONDS = 10.0


@dataclass(frozen=True)
class SetUp:
    """A way of routing: decisions for raw message texts, and the encoding they cost."""

    name: str
    route: Callable[[Sequence[str]], list[RoutingDecision]]
    encode: Callable[[Sequence[str]], Vectors]


def today(settings: Settings) -> SetUp:
    """The shipped encoder (``[model]``) for every message, as the worker routes."""
    embedder = SentenceTransformerEmbedder(settings.model.path, batch_size=BATCH)
    service = asyncio.run(RoutingService.build(settings, embedder))

    def route(texts: Sequence[str]) -> list[RoutingDecision]:
        return service.route_vectors(embedder.encode([embedding_text("", t) for t in texts]))

    return SetUp("today", route, embedder.encode)


def second_encoder(settings: Settings, name: str, second: Embedder) -> SetUp:
    """The product's set-up (inbox/pipeline/language_routing.py): the shipped encoder's
    router for every message, then ``second``'s router, from the same English phrases with
    its own closeness bar, for what the triage's detector calls another configured
    language."""
    first = SentenceTransformerEmbedder(settings.model.path, batch_size=BATCH)
    router = asyncio.run(RoutingService.build(settings, first))
    languages = asyncio.run(LanguageRouting.build(settings, embedder=second))
    assert languages is not None, "no other language configured, or [routing] multilingual off"
    detector = LanguageDetector(settings.triage.languages)

    def route(texts: Sequence[str]) -> list[RoutingDecision]:
        prepared = [embedding_text("", t) for t in texts]
        decisions = router.route_vectors(first.encode(prepared))
        detected = [detector.detect(t) for t in texts]
        return asyncio.run(languages.reroute(prepared, decisions, detected))

    def encode(texts: Sequence[str]) -> Vectors:
        # A message not in English is encoded by both: the first encoder's vectors still
        # serve deduplication, triage and the answers.
        second.encode(texts)
        return first.encode(texts)

    return SetUp(name, route, encode)


SETUPS: dict[str, Callable[[Settings], SetUp]] = {
    "today": today,
    # What the product does (issue 21).
    "two-encoders": lambda s: second_encoder(s, "two-encoders", MultilingualEmbedder()),
}


def resident_mib() -> float:
    """This process's resident memory now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def encodes_per_second(encode: Callable[[Sequence[str]], Vectors], texts: list[str]) -> float:
    """Texts encoded per second in batches of ``BATCH``, for about ``THROUGHPUT_SECONDS``."""
    encode(texts[:BATCH])  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < THROUGHPUT_SECONDS:
        for start in range(0, len(texts), BATCH):
            done += len(encode(texts[start : start + BATCH]))
    return done / (time.perf_counter() - started)


def print_tallies(label: str, tallies: list[Tally]) -> None:
    """One line per language: right / total, then each team's."""
    by_language: dict[str, list[Tally]] = defaultdict(list)
    for t in tallies:
        by_language[t.language].append(t)
    right = sum(t.right for t in tallies)
    total = sum(t.total for t in tallies)
    print(f"{label}: {right}/{total} ({right / total:.1%})")
    for language, rows in by_language.items():
        r, n = sum(t.right for t in rows), sum(t.total for t in rows)
        teams = "  ".join(f"{t.team} {t.right}/{t.total}" for t in rows)
        print(f"  {language} {r:>3}/{n} ({r / n:6.1%})   {teams}")


def main() -> None:
    """Builds the set-up, routes the test set, measures the encoder; prints, asserts nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--setup", choices=sorted(SETUPS), default="today")
    args = parser.parse_args()
    settings = load_settings(Path(args.config))
    messages = read_language_set()
    before = resident_mib()
    setup = SETUPS[args.setup](settings)
    loaded = resident_mib()
    decisions = setup.route([m.text for m in messages])
    fallback = settings.routing.fallback_team
    print(f"set-up {setup.name!r}, {len(messages)} messages ({fallback!r} counts as a miss)")
    print_tallies("routed to their team", tally(messages, [d.team for d in decisions]))
    print_tallies(
        "first choice (never abstaining)", tally(messages, [d.predicted_team for d in decisions])
    )
    abstained = sum(d.abstained for d in decisions)
    print(f"abstained (sent to {fallback!r}): {abstained}")
    texts = [embedding_text("", m.text) for m in messages]
    rate = encodes_per_second(setup.encode, texts)
    print(f"encode: {rate:.0f} texts/s at batch {BATCH}")
    print(f"resident memory: {before:.0f} MiB before the set-up, {loaded:.0f} MiB after loading")


if __name__ == "__main__":
    main()
