"""Triage by meaning: urgency, anger and spam recognised from example phrases, and the
message's language.

Phrase lists catch the words people use; these catch what they mean ("nothing loads for
anyone since this morning" is an outage without the word). Each kind is a small set of
example phrases from the configuration, encoded once; a message is that kind when its
embedding is at least ``similarity`` close to one of them. Costs one small matrix
product per batch on vectors the worker already has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.embedder import Vectors


@dataclass(frozen=True)
class Match:
    """The closest example of one kind, and how close."""

    kind: str
    example: str
    similarity: float

    def reason(self) -> str:
        """The match as a reason an agent reads."""
        return f"{self.kind} in meaning: like {self.example!r} ({self.similarity:.2f})"


class MeaningTriage:
    """Finds, per message, which kinds (urgent, negative, spam ...) it is close to."""

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]],
        vectors: Mapping[str, Vectors],
        thresholds: Mapping[str, float],
    ) -> None:
        self.kinds = [k for k in examples if len(examples[k])]
        self.examples = {k: list(examples[k]) for k in self.kinds}
        self.vectors = {k: np.asarray(vectors[k], dtype=np.float32) for k in self.kinds}
        self.thresholds = thresholds

    def matches(self, vectors: Vectors) -> list[dict[str, Match]]:
        """For each message, the kinds it matches (closest example of each)."""
        x = np.asarray(vectors, dtype=np.float32)
        found: list[dict[str, Match]] = [{} for _ in range(len(x))]
        for kind in self.kinds:
            sims = x @ self.vectors[kind].T
            best = sims.argmax(axis=1)
            for i, j in enumerate(best):
                similarity = float(sims[i, j])
                if similarity >= self.thresholds[kind]:
                    found[i][kind] = Match(kind, self.examples[kind][j], similarity)
        return found


class LanguageDetector:
    """The message's language (ISO 639-1), among the configured ones; "" if unsure.

    lingua, restricted to the configured languages (each one more costs time: about
    0.1 ms per message for four, against about 3 ms for the encode). Its low-accuracy
    mode is faster but took one English message in twenty for another language here.
    Very short texts, where no detector is reliable, are left undecided, not guessed.
    """

    MIN_LETTERS = 12
    # Words that are English and not a word of the other languages lingua is usually
    # asked about here (de, fr, es, it, nl, pt). Plain-ASCII text with three of them is
    # English without asking lingua: that is most messages, at a hundredth of the cost.
    ENGLISH_ONLY = frozenset(
        {
            "the",
            "and",
            "my",
            "is",
            "you",
            "your",
            "how",
            "what",
            "with",
            "have",
            "was",
            "this",
            "does",
            "of",
            "it",
            "can",
            "would",
            "please",
            "want",
            "there",
            "been",
            "why",
            "when",
            "which",
            "could",
            "should",
            "i'm",
            "don't",
            "can't",
        }
    )

    def __init__(self, codes: Sequence[str]) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
        self._detector = (
            LanguageDetectorBuilder.from_languages(*languages)
            .with_preloaded_language_models()
            .build()
            if len(languages) > 1
            else None
        )
        self._only = codes[0].lower() if len(codes) == 1 else ""
        self._english = "en" in {c.lower() for c in codes}

    def detect(self, text: str) -> str:
        """The language of ``text``, or "" when it is too short to tell."""
        if sum(ch.isalpha() for ch in text) < self.MIN_LETTERS:
            return ""
        if self._detector is None:
            return self._only
        if self._english and text.isascii():
            words = set(text.lower().replace(",", " ").replace(".", " ").replace("?", " ").split())
            if len(words & self.ENGLISH_ONLY) >= 3:
                return "en"
        found = self._detector.detect_language_of(text)
        return "" if found is None else str(found.iso_code_639_1.name).lower()


def known_language_codes() -> set[str]:
    """Every ISO 639-1 code lingua knows (for validating the configuration)."""
    from lingua import IsoCode639_1

    return {name.lower() for name in dir(IsoCode639_1) if name.isupper() and len(name) == 2}
