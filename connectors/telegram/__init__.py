"""The Telegram channel: a bot on the Bot API (python-telegram-bot), long polling."""

import os

# python-telegram-bot 22 gives time periods (RetryAfter.retry_after) as timedelta when this
# is set, and warns on every rate limit otherwise. The connector reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "true")
