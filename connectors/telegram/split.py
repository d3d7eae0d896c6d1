"""Long answers cut into Telegram-sized messages, on the most natural boundary that fits."""

from __future__ import annotations

import re

# Telegram counts a message's length in UTF-16 code units, as JavaScript does.
MAX_MESSAGE = 4096
_BOUNDARIES = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?])\s+"),
    re.compile(r"\s+"),
)


def units(text: str) -> int:
    """The length Telegram measures: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """``text`` as parts of at most ``limit`` units, in order, cut between paragraphs
    where possible, then between lines, sentences, words, and only then inside a word."""
    text = text.strip()
    if units(text) <= limit:
        return [text] if text else []
    return [part for part in _split(text, limit, 0) if part]


def _split(text: str, limit: int, level: int) -> list[str]:
    if units(text) <= limit:
        return [text.strip()]
    if level == len(_BOUNDARIES):
        return _hard_cut(text, limit)
    pieces = _pieces(text, _BOUNDARIES[level])
    if len(pieces) == 1:
        return _split(text, limit, level + 1)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + piece
        if units(candidate.strip()) <= limit:
            current = candidate
            continue
        if current.strip():
            parts.append(current.strip())
        if units(piece.strip()) <= limit:
            current = piece
        else:
            parts += _split(piece.strip(), limit, level + 1)
            current = ""
    if current.strip():
        parts.append(current.strip())
    return parts


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    """``text`` cut after each boundary, the boundary kept with the piece before it."""
    pieces: list[str] = []
    start = 0
    for match in boundary.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _hard_cut(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = units(char)
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        parts.append("".join(current))
    return parts
