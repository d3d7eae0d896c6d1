"""Keeps bot tokens out of the log.

The Bot API puts the token in every URL (``/bot<token>/getUpdates``), and httpx logs each
request's URL at INFO; python-telegram-bot logs its base URLs at DEBUG. Whoever reads
the log could then run the bot, so every record from those loggers has the tokens of
this process's bots replaced before any handler sees it.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

# The loggers that see Bot API URLs. A logger's filter applies only to records created
# on that logger itself (not its children), hence the full names.
URL_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "connectors.telegram.channel",  # errors it logs may quote a URL
    "connectors.telegram.updates",
)
REDACTED = "<bot-token>"


class TokenRedactor(logging.Filter):
    """Replaces known bot tokens in a record's message and arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrites the record's text without the tokens; never drops it. The text is
        fixed here: formatted later, a dict in the arguments may have changed (the Bot
        fills in a file's full URL after logging the answer that carried it)."""
        message = record.getMessage()
        for token in self.tokens:
            message = message.replace(token, REDACTED)
        record.msg, record.args = message, None
        return True


_redactor = TokenRedactor()


def hide_token(token: str) -> None:
    """Keeps ``token`` out of every later log record of the loggers that see URLs."""
    if not token:
        return
    # File URLs carry the token percent-encoded ("123:abc" as "123%3Aabc").
    _redactor.tokens.update({token, quote(token, safe=""), quote(token, safe=":")})
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _redactor not in logger.filters:
            logger.addFilter(_redactor)
