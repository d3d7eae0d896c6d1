"""BM25 over short passages, in Python: the lexical half of answer retrieval.

Computed here rather than by SQLite FTS5 or PostgreSQL full-text search, so the scores
are the same on both back-ends by construction (the two engines tokenise, stem and rank
differently). A knowledge base is a few hundred passages: scoring a question against all
of them costs a few microseconds per word of the question.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

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
    return list(_terms(text))


@functools.lru_cache(maxsize=4096)
def _terms(text: str) -> tuple[str, ...]:
    """``terms``, remembered: a message is scored, then its matched passage explained."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return tuple(stem(w) for w in words if w not in STOP_WORDS and not w.isdigit())


class Bm25:
    """Okapi BM25 over a fixed set of passages.

    Each term's contribution to every passage that holds it is computed once, at build
    (a posting list of passage numbers and weights), so scoring a question is one numpy
    addition per word of the question, not a loop over the passages.
    """

    def __init__(self, passages: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        docs = [Counter(terms(p)) for p in passages]
        self._holds = [frozenset(d) for d in docs]
        self._size = len(docs)
        lengths = [sum(d.values()) for d in docs]
        average = sum(lengths) / max(len(docs), 1) or 1.0
        holders: dict[str, list[int]] = {}
        for number, doc in enumerate(docs):
            for term in doc:
                holders.setdefault(term, []).append(number)
        n = len(docs)
        self._idf = {
            t: math.log(1 + (n - len(h) + 0.5) / (len(h) + 0.5)) for t, h in holders.items()
        }
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, numbers in holders.items():
            weights = []
            for number in numbers:
                tf = docs[number][term]
                norm = k1 * (1 - b + b * lengths[number] / average)
                weights.append(self._idf[term] * tf * (k1 + 1) / (tf + norm))
            self._postings[term] = (np.array(numbers, dtype=np.int64), np.array(weights))
        # A word no passage has is as informative as the rarest: it counts against a
        # match, so "asdf qwerty" matches nothing at all rather than everything a bit.
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)

    def scores(self, question: str) -> np.ndarray:
        """Each passage's match with ``question``: its BM25 score as a share of the most
        the question could score, 0..1."""
        wanted = list(dict.fromkeys(_terms(question)))
        ceiling = sum(self._idf.get(t, self._unknown_idf) for t in wanted) * (self.k1 + 1)
        total = np.zeros(self._size)
        if not ceiling:
            return total
        for term in wanted:
            posting = self._postings.get(term)
            if posting is not None:
                total[posting[0]] += posting[1]
        result: np.ndarray = total / ceiling
        return result

    def shared_terms(self, question: str, passage: int) -> tuple[str, ...]:
        """The question's terms that passage number ``passage`` contains."""
        return tuple(t for t in dict.fromkeys(_terms(question)) if t in self._holds[passage])
