"""A mail's attachments as they are kept: a safe file name, and no bytes past the limit."""

from __future__ import annotations

import unicodedata

from inbox.models import Attachment

MAX_FILENAME = 200


def safe_filename(name: str, position: int) -> str:
    """A safe base name: no path, no control or bidi characters, at most 200 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc (controls, CR/LF) and Cf (bidi overrides that make "gpj.exe" read as "exe.jpg").
    base = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf"} else ch for ch in base)
    base = " ".join(base.split())
    if base in {"", ".", ".."}:
        return f"attachment-{position}"
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        if dot and stem and len(ext) <= 20:
            base = f"{stem[: MAX_FILENAME - len(ext) - 1]}.{ext}"
        else:
            base = base[:MAX_FILENAME]
    return base


def kept_attachment(
    data: bytes, filename: str, content_type: str, position: int, max_bytes: int
) -> Attachment:
    """The attachment at ``position`` (from 1); past ``max_bytes`` only its size is kept."""
    omitted = len(data) > max_bytes
    return Attachment(
        filename=safe_filename(filename, position),
        content_type=content_type,
        size=len(data),
        data=b"" if omitted else data,
        omitted=omitted,
    )
