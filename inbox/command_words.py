"""The bot's commands as words: which ones there are and how a message names one.

Pure text, so the channels can tell a command from a message without the code that
answers commands (``inbox.pipeline.commands``, which reads and writes the store).
"""

from __future__ import annotations

import re

COMMANDS = frozenset({"start", "help", "status", "human", "link", "verify", "stop", "resume"})
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)


def parse_command(text: str) -> tuple[str, str] | None:
    """``("link", "ann@example.com")`` for ``/link@our_bot ann@example.com``; None for
    anything that is not a command. An unknown command comes back as ``help``."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name = match.group(1).lower()
    return (name if name in COMMANDS else "help", (match.group(2) or "").strip()[:320])
