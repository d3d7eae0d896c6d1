"""The new part of a reply: quoted text, reply headers and signatures stripped."""

from __future__ import annotations

import re

_BLANK_RUNS = re.compile(r"\n{3,}")

_ATTRIBUTION = re.compile(
    r"^\s*(?:on\s.+\swrote|am\s.+\sschrieb.*|le\s.+\sa\s+écrit|el\s.+\sescribió|op\s.+\sschreef.*)"
    r"\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*(?:on|am|le|el|op)\s", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*original message\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:from|von|de|van|da)\s*:\*?\s*\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|gesendet|datum|envoyé|enviado|enviada|inviato|data|verzonden)\s*:",
    re.IGNORECASE,
)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_length(lines: list[str], index: int) -> int:
    """How many lines (0, 1 or 2) an "On <date>, <name> wrote:" attribution spans here."""
    line = lines[index]
    if _ATTRIBUTION.match(line):
        return 1
    joined = f"{line.rstrip()} {lines[index + 1].strip()}" if index + 1 < len(lines) else ""
    if joined and _ATTRIBUTION_START.match(line) and _ATTRIBUTION.match(joined):
        return 2
    return 0


def _starts_reply_header(lines: list[str], index: int) -> bool:
    """Whether an "Original Message" line or an Outlook From:/Sent: block starts here."""
    if _ORIGINAL_MESSAGE.match(lines[index]):
        return True
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    return any(_OUTLOOK_NEXT.match(line) for line in lines[index + 1 : index + 4])


def _is_signature_delimiter(line: str) -> bool:
    return line in {"-- ", "--"}


def _interleaved_after(lines: list[str]) -> bool:
    """Whether the lines after an attribution mix quotes with new text (an inline reply).

    Top-posted replies have only the quote after the attribution, and cutting there is right;
    bottom-posted or interleaved ones carry the customer's words below it, which must stay.
    """
    seen_quote = False
    for line in lines:
        if _is_signature_delimiter(line):
            break
        if _is_quoted(line):
            seen_quote = True
        elif seen_quote and line.strip():
            return True
    return False


def strip_quotes_and_signature(text: str) -> str:
    """The new part of a reply: quoted lines, reply headers and the signature removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _is_signature_delimiter(line) or _starts_reply_header(lines, index):
            break
        span = _attribution_length(lines, index)
        if span:
            if not _interleaved_after(lines[index + span :]):
                break
            index += span
            continue
        if not _is_quoted(line):
            kept.append(line.rstrip())
        index += 1
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
