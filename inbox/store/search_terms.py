"""What an agent typed into the search box, made safe for each back-end's full-text
search: the words as plain terms (all of them must match, the last one as a prefix), a
ticket number when it looks like one, and the whole text for addresses and names.

Nothing the agent types reaches FTS5's or PostgreSQL's query syntax: quotes, operators
(``AND``, ``NEAR``, ``-``, ``*``, ``:``, ``&``, ``|``, ``!``) and parentheses are separators
here, and each word is quoted (FTS5) or written from letters and digits only (tsquery).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A word as SQLite's unicode61 tokenizer sees one: letters and digits (the underscore
# separates, as it does there).
WORD = re.compile(r"[^\W_]+")
TICKET = re.compile(r"#?\s*(\d{1,9})")
MAX_TERMS = 12  # more words than this only slow the query down
MIN_PREFIX = 2  # a one-letter prefix matches half the index: it is matched whole
# Characters PostgreSQL's text parser would keep inside a token (an address, a URL, a
# hyphenated word) but SQLite's tokenizer splits on: turned into spaces on both sides of
# ``@@`` so that a word of an address matches on PostgreSQL as it does on SQLite.
PG_SPLIT_FROM = "@./_-:+"
PG_SPLIT_TO = " " * len(PG_SPLIT_FROM)
# The indexed expression (migration 0022 creates a GIN index on exactly this).
PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, translate(messages.subject || ' ' || messages.text, "
    f"'{PG_SPLIT_FROM}', '{PG_SPLIT_TO}'))"
)


@dataclass(frozen=True)
class SearchTerms:
    """The parts of a search: ``words`` for the text, ``ticket`` when the search is a
    ticket number (``1042`` or ``#1042``), ``whole`` (lower case, trimmed) for addresses
    and names."""

    words: tuple[str, ...]
    ticket: int | None
    whole: str
    typed: str = ""  # trimmed, case kept

    @property
    def sqlite_prefixes(self) -> tuple[str, ...]:
        """What SQLite's ``lower()``, which lowers A-Z only, may have made of a name or
        address that begins as typed: its other letters as typed, lowered, or capital at
        a word's start (names are written so: "Émilie", "Łukasz", "Erin Øster")."""
        lowered = self.typed.lower()
        initials = "".join(
            ch.upper() if not ch.isascii() and (i == 0 or lowered[i - 1] in " -'") else ch
            for i, ch in enumerate(lowered)
        )
        as_typed = "".join(ch.lower() if ch.isascii() else ch for ch in self.typed)
        return tuple(dict.fromkeys((lowered, initials, as_typed)))

    @classmethod
    def parse(cls, typed: str) -> SearchTerms:
        """Splits what was typed; never raises."""
        whole = " ".join(typed.split()).lower()[:200]
        words = tuple(w.lower() for w in WORD.findall(whole))[:MAX_TERMS]
        found = TICKET.fullmatch(whole)
        return cls(
            words, int(found.group(1)) if found else None, whole, " ".join(typed.split())[:200]
        )

    @property
    def empty(self) -> bool:
        """Nothing to search for (filters alone list conversations)."""
        return not self.words and not self.whole

    def _prefix_last(self) -> bool:
        return len(self.words[-1]) >= MIN_PREFIX

    def fts5(self) -> str:
        """An FTS5 ``MATCH`` expression: each word a quoted string, all of them required,
        the last a prefix (``"charged" "twi"*``)."""
        quoted = [f'"{w}"' for w in self.words]  # words hold no quotes: letters and digits
        if quoted and self._prefix_last():
            quoted[-1] += "*"
        return " ".join(quoted)

    def tsquery(self) -> str:
        """A ``to_tsquery('simple', ...)`` text: the words joined by ``&``, the last a
        prefix (``charged & twi:*``)."""
        parts = list(self.words)
        if parts and self._prefix_last():
            parts[-1] += ":*"
        return " & ".join(parts)
