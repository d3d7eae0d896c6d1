"""What the queue's dead letters say about where they came from."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from inbox.models import DeadLetter


def dead_metas(letters: Sequence[DeadLetter], channel: str) -> Iterator[dict[str, object]]:
    """The channel details (``meta``) of ``channel``'s dead letters, as far as each reads
    (a payload that is not JSON may be why it died)."""
    for letter in letters:
        try:
            payload = json.loads(letter.payload)
        except ValueError:
            continue
        if not isinstance(payload, dict) or payload.get("channel") != channel:
            continue
        meta = payload.get("meta")
        if isinstance(meta, dict):
            yield meta
