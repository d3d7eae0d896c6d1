"""BM25 over short passages, in Python: the lexical half of answer retrieval.

Computed here rather than by SQLite FTS5 or PostgreSQL full-text search, so the scores
are the same on both back-ends by construction (the two engines tokenise, stem and rank
differently). A knowledge base is a few hundred passages: scoring a question against all
of them costs well under a millisecond.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_TEXT = (
    "a an and are as at be been but by can could do does did for from had has have how i "
    "i'd i'm i've if in into is it it's me my of on or our please so that the their them "
    "then there this to up us was we were what when where which who why will with would "
    "you your yours want need like help hi hello thanks thank just some any get"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())
_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """A crude suffix strip: enough for "orders" to meet "order", "cancelled" "cancel"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """The words of ``text`` that carry meaning, lower-cased and stemmed."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return [stem(w) for w in words if w not in STOP_WORDS and not w.isdigit()]


@dataclass(frozen=True)
class LexicalMatch:
    """A passage's BM25 score as a share of the most the question could score, and the
    question's terms it contains."""

    score: float
    terms: tuple[str, ...]


class Bm25:
    """Okapi BM25 over a fixed set of passages."""

    def __init__(self, passages: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._docs = [Counter(terms(p)) for p in passages]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._average = sum(self._lengths) / max(len(self._docs), 1) or 1.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        # A word no passage has is as informative as the rarest: it counts against a
        # match, so "asdf qwerty" matches nothing at all rather than everything a bit.
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)

    def scores(self, question: str) -> list[LexicalMatch]:
        """Each passage's match with ``question``, normalised to 0..1."""
        wanted = list(dict.fromkeys(terms(question)))
        ceiling = sum(self._idf.get(t, self._unknown_idf) for t in wanted) * (self.k1 + 1)
        matches = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            found = tuple(t for t in wanted if t in doc)
            total = 0.0
            for term in found:
                tf = doc[term]
                norm = self.k1 * (1 - self.b + self.b * length / self._average)
                total += self._idf[term] * tf * (self.k1 + 1) / (tf + norm)
            matches.append(LexicalMatch(total / ceiling if ceiling else 0.0, found))
        return matches
